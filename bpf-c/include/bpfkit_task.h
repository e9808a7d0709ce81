/* bpfkit_task.h — the fields of task_struct (and of what it leads to) that the tools read.
 *
 * Why not vmlinux.h's struct task_struct: clang describes in a program's debug info every type its
 * types reach, and task_struct reaches ~1,700 structs: a compile that touches it spent ~0.3 s of CPU on
 * them (runqlat 0.44 s -> 0.17 s). These are types of our own, named `<kernel name>___lean`: libbpf
 * relocates them field by field against the running kernel's type of the name before the `___` (CO-RE),
 * so a read lands where that kernel keeps the field, as with the full type. A field a program needs is
 * added here with the kernel's own type (the size of a read is this declaration's), and pointers lead
 * to other ___lean types or to declarations without a body. */
#ifndef __BPFKIT_TASK_H
#define __BPFKIT_TASK_H

#include <bpfkit.h>

#define PF_KTHREAD 0x00200000 /* task_struct->flags: a kernel thread */

struct ns_common___lean { unsigned int inum; } __attribute__((preserve_access_index));
struct pid_namespace___lean { struct ns_common___lean ns; } __attribute__((preserve_access_index));
struct upid___lean { int nr; struct pid_namespace___lean *ns; } __attribute__((preserve_access_index));
struct pid___lean {
	unsigned int level;
	struct upid___lean numbers[0];     /* level + 1 of them */
} __attribute__((preserve_access_index));

struct rq___lean { unsigned int nr_running; } __attribute__((preserve_access_index));
struct cfs_rq___lean {
	unsigned int nr_queued;        /* 6.14+; nr_running before (runqlen asks which) */
	struct rq___lean *rq;          /* CONFIG_FAIR_GROUP_SCHED */
} __attribute__((preserve_access_index));
struct sched_entity___lean { struct cfs_rq___lean *cfs_rq; } __attribute__((preserve_access_index));

struct task_struct___lean {
	unsigned int __state;          /* `long state` before 5.14: task_state() in bpfkit_sched.h */
	unsigned int flags;
	struct sched_entity___lean se;
	int exit_code;
	pid_t pid;
	pid_t tgid;
	struct task_struct___lean *real_parent;
	struct pid___lean *thread_pid;
	u64 start_time;
	char comm[16];
} __attribute__((preserve_access_index));

/* The task running this program (bpf_get_current_task() as a pointer to read with BPF_CORE_READ). */
static __always_inline struct task_struct___lean *current_task(void)
{
	return (struct task_struct___lean *)bpf_get_current_task();
}

#endif /* __BPFKIT_TASK_H */
