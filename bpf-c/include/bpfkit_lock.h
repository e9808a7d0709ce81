/* bpfkit_lock.h — lock waits from the lock:contention_begin/contention_end tracepoints (klockstat,
 * mlock): the begin stamps the waiting thread with the lock, its flags and kernel stack; the end
 * gives that record and the wait. Only contended acquisitions fire them (no fast path), and hold
 * times would need kprobes or fentry on the unlock functions. */
#ifndef __BPFKIT_LOCK_H
#define __BPFKIT_LOCK_H

#include <bpfkit.h>

/* include/trace/events/lock.h */
#define LCB_F_SPIN   (1U << 0)
#define LCB_F_READ   (1U << 1)
#define LCB_F_WRITE  (1U << 2)
#define LCB_F_RT     (1U << 3)
#define LCB_F_PERCPU (1U << 4)
#define LCB_F_MUTEX  (1U << 5)

const volatile u32 filter_pid = 0;
const volatile u32 filter_tid = 0;
const volatile u64 filter_lock = 0;
const volatile bool mutex_only = false;  /* mutexes only (mlock); else mutexes and semaphores (klockstat) */

/* Sleeping locks, as klockstat's: a mutex (MUTEX, also while it spins first), an rw_semaphore
 * (READ or WRITE without SPIN), a semaphore (no flags); not spinlocks or rwlocks (SPIN). */
static __always_inline bool lock_kind_wanted(u32 flags)
{
	if (flags & LCB_F_MUTEX)
		return true;
	return !mutex_only && !(flags & LCB_F_SPIN);
}

struct lock_wait { u64 ts; u64 lock; u32 flags; s32 stack_id; };
BPF_HASH(lock_waits, u32, struct lock_wait, 10240);   /* by waiting thread */
BPF_STACK_TRACE(lock_stacks, 4096);

static __always_inline int lock_wait_begin(void *ctx, u64 lock, u32 flags)
{
	u64 id = bpf_get_current_pid_tgid();
	if ((filter_pid && id >> 32 != filter_pid) || (filter_tid && (u32)id != filter_tid))
		return 0;
	if ((filter_lock && lock != filter_lock) || !lock_kind_wanted(flags))
		return 0;
	u32 tid = id;
	/* a mutex that spins first and then sleeps begins twice: the first begin times the wait */
	struct lock_wait *w = bpf_map_lookup_elem(&lock_waits, &tid);
	if (w && w->lock == lock) {
		w->flags |= flags;
		return 0;
	}
	struct lock_wait v = { .ts = bpf_ktime_get_ns(), .lock = lock, .flags = flags,
		.stack_id = bpf_get_stackid(ctx, &lock_stacks, 0) };
	bpf_map_update_elem(&lock_waits, &tid, &v, BPF_ANY);
	return 0;
}

/* The wait that ends here (copied into *out), its length in ns; 0 when none was begun. */
static __always_inline u64 lock_wait_end(u64 lock, struct lock_wait *out)
{
	u32 tid = bpfkit_tid();
	struct lock_wait *w = bpf_map_lookup_elem(&lock_waits, &tid);
	if (!w || w->lock != lock)
		return 0;
	*out = *w;
	bpf_map_delete_elem(&lock_waits, &tid);
	u64 delta = bpf_ktime_get_ns() - out->ts;
	return delta ? delta : 1;
}

#endif /* __BPFKIT_LOCK_H */
