/* bpfkit_sched.h — task helpers shared by the scheduler tools (runqlat, offcputime, wakeuptime, ...). */
#ifndef __BPFKIT_SCHED_H
#define __BPFKIT_SCHED_H

#include <bpfkit.h>
#include <bpfkit_task.h>

/* task_struct's state was renamed __state in 5.14 */
struct task_struct___pre514 { long state; } __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct___lean *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

#endif /* __BPFKIT_SCHED_H */
