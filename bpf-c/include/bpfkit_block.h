/* bpfkit_block.h — helpers shared by the block I/O tools (biolatency, biosnoop, ...).
 * struct request___lean: the request fields they read, as bpfkit_task.h does for task_struct (the
 * full struct request reaches ~1,000 types, which clang would describe at every compile). */
#ifndef __BPFKIT_BLOCK_H
#define __BPFKIT_BLOCK_H

#include <bpfkit.h>

struct gendisk___lean { int major; int first_minor; } __attribute__((preserve_access_index));
struct request_queue___lean { struct gendisk___lean *disk; } __attribute__((preserve_access_index));
struct request___lean {
	struct request_queue___lean *q;
	blk_opf_t cmd_flags;
	unsigned int __data_len;
	sector_t __sector;
} __attribute__((preserve_access_index));

/* Older kernels (before 5.16) had request->rq_disk; later ones reach the disk through the queue. */
struct request___rq_disk {
	struct gendisk___lean *rq_disk;
} __attribute__((preserve_access_index));

/* The request's disk as the kernel's dev_t (MKDEV(major, first_minor) = major << 20 | minor); 0 if none. */
static __always_inline u32 rq_dev(struct request___lean *rq)
{
	struct request___rq_disk *old = (void *)rq;
	struct gendisk___lean *disk;

	if (bpf_core_field_exists(old->rq_disk))
		disk = BPF_CORE_READ(old, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return (BPF_CORE_READ(disk, major) << 20) | BPF_CORE_READ(disk, first_minor);
}

#endif /* __BPFKIT_BLOCK_H */
