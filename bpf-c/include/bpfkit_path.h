/* bpfkit_path.h — a file's path, read in BPF from its dentries (for tracepoints, where bpf_d_path()
 * is not allowed), and the file mapped at a user address (bpf_find_vma: mmapsnoop, ffaults).
 *
 * The path is its components, innermost first, each up to BPFKIT_NAME_LEN bytes, at most
 * BPFKIT_PATH_DEPTH of them (deeper paths lose their outermost part: user space shows "..."); mount
 * points are crossed (struct mount, container of the vfsmount), so /tmp on tmpfs reads "/tmp/x".
 * User space joins them: lib/host/paths.ts' bpfPath(). */
#ifndef __BPFKIT_PATH_H
#define __BPFKIT_PATH_H

#include <bpfkit.h>

#ifndef BPFKIT_PATH_DEPTH
#define BPFKIT_PATH_DEPTH 16
#endif
#define BPFKIT_NAME_LEN 64

struct bpfkit_path {
	u32 depth;     /* components read */
	u32 truncated; /* more were left */
	char names[BPFKIT_PATH_DEPTH][BPFKIT_NAME_LEN];
};

static __always_inline void bpfkit_file_path(struct file *file, struct bpfkit_path *out)
{
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);

	out->depth = 0;
	out->truncated = 1; /* until the root is reached */
	for (int i = 0; i < BPFKIT_PATH_DEPTH + 8; i++) {
		struct dentry *root = BPF_CORE_READ(mnt, mnt.mnt_root);
		if (dentry == root) {
			struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
			if (parent == mnt) {
				out->truncated = 0; /* the root of everything */
				return;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = parent;
			continue;
		}
		struct dentry *up = BPF_CORE_READ(dentry, d_parent);
		if (up == dentry) {
			out->truncated = 0;
			return;
		}
		/* the count lives in memory, not in a register: the verifier need not follow every value
		 * it can take in every iteration (a register count made loading take seconds) */
		u32 depth = out->depth;
		if (depth >= BPFKIT_PATH_DEPTH)
			return;
		bpf_probe_read_kernel_str(out->names[depth & (BPFKIT_PATH_DEPTH - 1)], BPFKIT_NAME_LEN, BPF_CORE_READ(dentry, d_name.name));
		out->depth = depth + 1;
		dentry = up;
	}
}

/* bpf_find_vma's callback: the file the area maps, or NULL (ctx: a struct file * on the stack, as
 * the verifier wants the callback's context). */
static long __bpfkit_vma_file(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	*(struct file **)ctx = BPF_CORE_READ(vma, vm_file);
	return 0;
}

/* The file mapped at `addr` in the current task: NULL when anonymous or unmapped. */
static __always_inline struct file *bpfkit_mapped_file(u64 addr)
{
	struct file *file = NULL;
	bpf_find_vma(bpf_get_current_task_btf(), addr, __bpfkit_vma_file, &file, 0);
	return file;
}

/* The path of the file mapped at `addr` in the current task: depth 0 when anonymous or unmapped. */
static __always_inline void bpfkit_mapped_path(u64 addr, struct bpfkit_path *out)
{
	struct file *file = bpfkit_mapped_file(addr);
	out->depth = 0;
	out->truncated = 0;
	if (file)
		bpfkit_file_path(file, out);
}

#endif /* __BPFKIT_PATH_H */
