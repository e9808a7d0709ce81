/* bpfkit_kalloc.h — kernel allocations counted by kernel stack and process (kmem, kpages): one entry
 * per (stack, PID, comm) with the number of allocations and their bytes (or pages). */
#ifndef __BPFKIT_KALLOC_H
#define __BPFKIT_KALLOC_H

#include <bpfkit.h>

const volatile u32 filter_pid = 0;   /* -p */

struct alloc_key { s64 stack_id; u32 pid; char comm[TASK_COMM_LEN]; u32 __pad; }; /* no unnamed padding in a hash key */
struct alloc_val { u64 count; u64 total; };
BPF_HASH(allocs, struct alloc_key, struct alloc_val, 16384);
BPF_STACK_TRACE(alloc_stacks, 16384);

static __always_inline int count_alloc(void *ctx, u64 amount)
{
	u32 pid = bpfkit_tgid();
	if (filter_pid && pid != filter_pid)
		return 0;
	struct alloc_key key = { .stack_id = bpf_get_stackid(ctx, &alloc_stacks, 0), .pid = pid };
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	static const struct alloc_val zero;
	struct alloc_val *v = map_lookup_or_try_init(allocs, &key, &zero);
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		__sync_fetch_and_add(&v->total, amount);
	}
	return 0;
}

#endif /* __BPFKIT_KALLOC_H */
