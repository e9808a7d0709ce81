/* bpfkit_block.h — helpers shared by the block I/O tools (biolatency, biosnoop, ...). */
#ifndef __BPFKIT_BLOCK_H
#define __BPFKIT_BLOCK_H

#include <bpfkit.h>

/* Older kernels (before 5.16) had request->rq_disk; later ones reach the disk through the queue. */
struct request___rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* The request's disk as the kernel's dev_t (MKDEV(major, first_minor) = major << 20 | minor); 0 if none. */
static __always_inline u32 rq_dev(struct request *rq)
{
	struct request___rq_disk *old = (void *)rq;
	struct gendisk *disk;

	if (bpf_core_field_exists(old->rq_disk))
		disk = BPF_CORE_READ(old, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return (BPF_CORE_READ(disk, major) << 20) | BPF_CORE_READ(disk, first_minor);
}

#endif /* __BPFKIT_BLOCK_H */
