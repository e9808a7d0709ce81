// BPF programs of the kprobe/fentry lane, shared by the lane (run inside Debian 12's 6.1 and 6.12 kernels)
// and the host-side test of the clean errors (test/kernel/kprobe-errors.test.ts): the same objects, three kernels.

/** The lane's file filter: reads by process `targ_tgid` of the file with inode `targ_ino`. */
const OUR_FILE = `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
const volatile u64 targ_ino = 0;

static __always_inline bool ours(struct file *file)
{
	return bpfkit_tgid() == targ_tgid && BPF_CORE_READ(file, f_inode, i_ino) == targ_ino;
}
`;

/**
 * vfs_read observed four ways, as two fallback chains: entry (fentry -> kprobe) and return
 * (fexit -> kretprobe). Only reads by `targ_tgid` of the file with inode `targ_ino` count, so a test
 * knows the exact number: one per read() of that file.
 */
export const READS = `${OUR_FILE}
enum { FENTRY_CALLS, FEXIT_CALLS, FEXIT_BYTES, KPROBE_CALLS, KRETPROBE_CALLS, KRETPROBE_BYTES, NSLOTS };
BPF_ARRAY(counts, u64, NSLOTS);
BPF_HASH(inflight, u32, u8, 1024);   /* kprobe -> kretprobe: this thread is reading our file */

SEC("fentry/vfs_read")
int BPF_PROG(read_fentry, struct file *file)
{
	if (ours(file))
		map_increment(counts, (u32)FENTRY_CALLS);
	return 0;
}

SEC("fexit/vfs_read")
int BPF_PROG(read_fexit, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	if (!ours(file))
		return 0;
	map_increment(counts, (u32)FEXIT_CALLS);
	if (ret > 0)
		map_add(counts, (u32)FEXIT_BYTES, ret);
	return 0;
}

SEC("kprobe/vfs_read")
int BPF_KPROBE(read_kprobe, struct file *file)
{
	if (!ours(file))
		return 0;
	u32 tid = bpfkit_tid();
	u8 one = 1;
	map_increment(counts, (u32)KPROBE_CALLS);
	bpf_map_update_elem(&inflight, &tid, &one, BPF_ANY);
	return 0;
}

SEC("kretprobe/vfs_read")
int BPF_KRETPROBE(read_kretprobe, ssize_t ret)
{
	u32 tid = bpfkit_tid();
	if (!bpf_map_lookup_elem(&inflight, &tid))
		return 0;
	bpf_map_delete_elem(&inflight, &tid);
	map_increment(counts, (u32)KRETPROBE_CALLS);
	if (ret > 0)
		map_add(counts, (u32)KRETPROBE_BYTES, ret);
	return 0;
}
`;

export const Slot = { FENTRY_CALLS: 0, FEXIT_CALLS: 1, FEXIT_BYTES: 2, KPROBE_CALLS: 3, KRETPROBE_CALLS: 4, KRETPROBE_BYTES: 5 } as const;

/**
 * kprobes attached by hand (SEC("kprobe") names no function): one program on every function of a glob,
 * counting calls by function address (and the same as a SEC("kprobe.multi") program), one on a syscall
 * given by its BCC-style name, and one at an offset inside a function. Only the thread `targ_tid`
 * counts, and only once armed (attaching reads sysfs files: vfs_read too).
 */
export const BY_HAND = `#include <bpfkit.h>
const volatile u32 targ_tid = 0;

BPF_ARRAY(armed, u32, 1);
BPF_HASH(calls, u64, u64, 256);      /* function address -> calls */
BPF_HASH(multi_calls, u64, u64, 256); /* the same through one kprobe.multi link */
enum { SYSCALL_HITS, OFFSET_HITS, NHITS };
BPF_ARRAY(hits, u64, NHITS);

static __always_inline bool ours(void)
{
	u32 zero = 0, *on = bpf_map_lookup_elem(&armed, &zero);
	return on && *on && bpfkit_tid() == targ_tid;
}

/* calls of this thread, by function address, in one of the two call maps */
#define COUNT_CALL(map)                                  \
	({                                               \
		if (ours())                              \
			map_increment(map, bpf_get_func_ip(ctx)); \
		0;                                       \
	})

SEC("kprobe")
int BPF_KPROBE(multi_entry) { return COUNT_CALL(calls); }

SEC("kprobe.multi")
int BPF_KPROBE(multi_link) { return COUNT_CALL(multi_calls); }

SEC("kprobe")
int BPF_KPROBE(syscall_entry)
{
	if (ours())
		map_increment(hits, (u32)SYSCALL_HITS);
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(offset_entry)
{
	if (ours())
		map_increment(hits, (u32)OFFSET_HITS);
	return 0;
}
`;

export const Hit = { SYSCALL: 0, OFFSET: 1 } as const;

/**
 * A function known by several names across kernel versions (BCC's __blk_account_io_start /
 * blk_account_io_start): the section lists them in order, and the first one the kernel has is used,
 * by fentry (a BTF target set before load) or by kprobe. No kernel has the first name here.
 */
export const RENAMED = `${OUR_FILE}
BPF_ARRAY(reads, u64, 1);

static __always_inline int count(struct file *file)
{
	if (ours(file))
		map_increment(reads, (u32)0);
	return 0;
}

SEC("fentry/bpfkit_vfs_read_renamed|vfs_read")
int BPF_PROG(renamed_fentry, struct file *file) { return count(file); }

SEC("kprobe/bpfkit_vfs_read_renamed|vfs_read")
int BPF_KPROBE(renamed_kprobe, struct file *file) { return count(file); }
`;

/** RENAMED where no name exists: the error names them all. */
export const RENAMED_NOWHERE = RENAMED.replaceAll('|vfs_read', '|bpfkit_vfs_read_gone');

/**
 * A kernel wildcard in the section, as tools write it: attachAll() makes one kprobe.multi link of it
 * where the kernel has them, else one kprobe per function. Counts, by function address, the calls by
 * process `targ_tgid` whose first argument is the file with inode `targ_ino` (vfs_read and vfs_readv
 * take a struct file first; vfs_readlink takes a dentry, but the process, a dd, reads no link).
 */
export const WILDCARD = `${OUR_FILE}
BPF_HASH(calls, u64, u64, 64);   /* function address -> calls */

SEC("kprobe.multi/vfs_read*")
int BPF_KPROBE(wildcard_entry, struct file *file)
{
	if (ours(file))
		map_increment(calls, bpf_get_func_ip(ctx));
	return 0;
}
`;

/** Name -> text of every lane object: the host compiles them before the VM boots (clang is slow there). */
export const LANE_OBJECTS: Record<string, string> = { lane_reads: READS, lane_by_hand: BY_HAND, lane_renamed: RENAMED, lane_nowhere: RENAMED_NOWHERE, lane_wildcard: WILDCARD };
