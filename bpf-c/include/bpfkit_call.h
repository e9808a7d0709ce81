/* A syscall's arguments kept per thread from its entry to its exit, and one event made at the exit:
 * the shape of BCC's kprobe + kretprobe snoop tools, on the syscall tracepoints (shmsnoop, mmapsnoop; compactsnoop keeps its start time so).
 *
 *	struct call { ...the arguments... };
 *	struct event { BPFKIT_CALL_EVENT_HEAD(struct call); ...the tool's own fields... };
 *	BPFKIT_CALLS(struct call, struct event, 10240, 64);
 *
 * defines the map `calls` (TID -> struct call), the ring buffer `events` and these functions (a tool
 * whose event is its own, compactsnoop, takes the first three alone: BPFKIT_CALL_MAP(struct call, 10240)):
 *	call_enter(&c)      at the entry, after the tool's filters: keep this thread's call
 *	call_kept()         at the exit: the call kept at its entry, or NULL (filtered, or entered before the attach)
 *	call_event(c, ret)  reserve the exit's event with its head filled (ts, id, ret, call, comm); NULL when full
 *	call_forget()       drop this thread's call (after its event, or when the exit is not shown)
 *	call_exit(ctx, ret) the whole exit of a tool with nothing to add: kept, event, submit, forget
 */
#ifndef __BPFKIT_CALL_H
#define __BPFKIT_CALL_H

#include <bpfkit.h>

/* The head every call event starts with: user space reads id as tgid << 32 | tid. */
#define BPFKIT_CALL_EVENT_HEAD(call_type)                                                          \
	u64 ts;                                                                                    \
	u64 id;                                                                                    \
	s64 ret;                                                                                   \
	call_type call;                                                                            \
	char comm[TASK_COMM_LEN]

/* The per-thread map of calls and call_enter(), call_kept(), call_forget(). */
#define BPFKIT_CALL_MAP(call_type, max_calls)                                                      \
	BPF_HASH(calls, u32, call_type, max_calls);                                                \
                                                                                                   \
	static __always_inline int call_enter(const call_type *c)                                  \
	{                                                                                          \
		u32 tid = bpfkit_tid();                                                            \
		bpf_map_update_elem(&calls, &tid, c, BPF_ANY);                                     \
		return 0;                                                                          \
	}                                                                                          \
                                                                                                   \
	static __always_inline call_type *call_kept(void)                                          \
	{                                                                                          \
		u32 tid = bpfkit_tid();                                                            \
		return bpf_map_lookup_elem(&calls, &tid);                                          \
	}                                                                                          \
                                                                                                   \
	static __always_inline void call_forget(void)                                              \
	{                                                                                          \
		u32 tid = bpfkit_tid();                                                            \
		bpf_map_delete_elem(&calls, &tid);                                                 \
	}

/* The map, the ring buffer `events` of event_type (its head BPFKIT_CALL_EVENT_HEAD), call_event(), call_exit(). */
#define BPFKIT_CALLS(call_type, event_type, max_calls, ringbuf_pages)                             \
	BPFKIT_CALL_MAP(call_type, max_calls);                                                     \
	BPF_RINGBUF_OUTPUT(events, ringbuf_pages);                                                 \
	BPFKIT_EXPORT_TYPE(event_type);                                                            \
                                                                                                   \
	static __always_inline event_type *call_event(const call_type *c, long ret)                \
	{                                                                                          \
		event_type *e = ringbuf_reserve(events, event_type);                               \
		if (!e)                                                                            \
			return NULL;                                                               \
		e->ts = bpf_ktime_get_ns();                                                        \
		e->id = bpf_get_current_pid_tgid();                                                \
		e->ret = ret;                                                                      \
		e->call = *c;                                                                      \
		bpf_get_current_comm(&e->comm, sizeof(e->comm));                                   \
		return e;                                                                          \
	}                                                                                          \
                                                                                                   \
	static __always_inline int call_exit(void *ctx, long ret)                                 \
	{                                                                                          \
		call_type *c = call_kept();                                                        \
		if (!c)                                                                            \
			return 0;                                                                  \
		event_type *e = call_event(c, ret);                                                \
		if (e)                                                                             \
			ringbuf_submit(events, e);                                                 \
		call_forget();                                                                     \
		return 0;                                                                          \
	}

#endif /* __BPFKIT_CALL_H */
