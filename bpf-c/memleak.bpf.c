/* memleak's BPF program (tools/mem/memleak.ts): outstanding allocations by address, their stacks, and
 * the per-stack totals; user mode probes libc's allocators, kernel mode the kmem/percpu tracepoints. */
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;
const volatile u64 min_size = 0;
const volatile u64 max_size = (u64)-1;
const volatile u64 sample_every_n = 1;
const volatile bool trace_all = false;       /* -t */
const volatile bool wa_missing_free = false; /* --wa-missing-free */
const volatile bool user_stacks = false;     /* user mode: the allocating process's stack */
const volatile u64 page_size = 4096;
/* -c: the command starts as a shell that waits, then execs it: what the shell allocates is not its */
const volatile bool after_exec = false;
bool exec_seen = false;

struct alloc_info_t {
	u64 size;
	u64 timestamp_ns;
	int stack_id;
};

struct combined_alloc_info_t {
	u64 total_size;
	u64 number_of_allocs;
};

enum { KERNEL, MALLOC, CALLOC, REALLOC, MMAP, POSIX_MEMALIGN, VALLOC, MEMALIGN, PVALLOC, ALIGNED_ALLOC };
enum { TRACE_ALLOC_ENTER, TRACE_ALLOC_EXIT, TRACE_FREE };

struct call_event {
	u64 size;
	u64 addr;
	u32 what;
	u32 pid;
	char comm[16];
};

BPF_HASH(sizes, u64, u64, 10240);
/* BCC's 1,000,000 entries, allocated as they are used: the kernel's outstanding allocations are many */
BPF_TABLE_FLAGS(BPF_MAP_TYPE_HASH, u64, struct alloc_info_t, allocs, 1000000, BPF_F_NO_PREALLOC);
BPF_HASH(memptrs, u32, u64, 10240);
BPF_STACK_TRACE(stack_traces, 10240);
BPF_HASH(combined_allocs, u64, struct combined_alloc_info_t, 10240);
BPF_RINGBUF_OUTPUT(trace_events, 256);
BPFKIT_EXPORT_TYPE(struct call_event);

static __always_inline void trace(void *ctx, u32 what, u64 size, u64 addr)
{
	struct call_event *e = ringbuf_reserve(trace_events, struct call_event);
	if (!e)
		return;
	e->what = what;
	e->size = size;
	e->addr = addr;
	e->pid = bpfkit_tgid();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(trace_events, e);
}

static __always_inline void update_statistics_add(u64 stack_id, u64 sz)
{
	struct combined_alloc_info_t zero = {};
	struct combined_alloc_info_t *c = map_lookup_or_try_init(combined_allocs, &stack_id, &zero);
	if (!c)
		return;
	__sync_fetch_and_add(&c->total_size, sz);
	__sync_fetch_and_add(&c->number_of_allocs, 1);
}

static __always_inline void update_statistics_del(u64 stack_id, u64 sz)
{
	struct combined_alloc_info_t *c = bpf_map_lookup_elem(&combined_allocs, &stack_id);
	if (!c)
		return;
	if (c->number_of_allocs > 1) {
		__sync_fetch_and_sub(&c->total_size, sz);
		__sync_fetch_and_sub(&c->number_of_allocs, 1);
	} else {
		bpf_map_delete_elem(&combined_allocs, &stack_id);
	}
}

/* The three steps below are BPF subprograms, called by each of the 30 programs, not inlined into each:
 * clang then generates them once (a cold compile 260 -> 95 ms), at the cost of a call per event. */
static __noinline int gen_alloc_enter(void *ctx, u64 size, u32 type_index)
{
	if (size < min_size || size > max_size)
		return 0;
	if (sample_every_n > 1 && bpf_ktime_get_ns() % sample_every_n != 0)
		return 0;
	if (targ_tgid && bpfkit_tgid() != targ_tgid)
		return 0;
	if (after_exec && !exec_seen)
		return 0;
	/* by thread and allocator: an allocator that calls another (realloc -> malloc) keeps its own size */
	u64 key = (u64)type_index << 32 | bpfkit_tid();
	bpf_map_update_elem(&sizes, &key, &size, BPF_ANY);
	if (trace_all)
		trace(ctx, TRACE_ALLOC_ENTER, size, 0);
	return 0;
}

static __noinline int gen_alloc_exit2(void *ctx, u64 address, u32 type_index)
{
	u64 key = (u64)type_index << 32 | bpfkit_tid();
	u64 *size = bpf_map_lookup_elem(&sizes, &key);
	struct alloc_info_t info = {};

	if (!size)
		return 0; /* filtered out, sampled out, or entered before we attached */
	info.size = *size;
	bpf_map_delete_elem(&sizes, &key);
	if (address != 0) {
		info.timestamp_ns = bpf_ktime_get_ns();
		info.stack_id = bpf_get_stackid(ctx, &stack_traces, user_stacks ? BPF_F_USER_STACK : 0);
		bpf_map_update_elem(&allocs, &address, &info, BPF_ANY);
		update_statistics_add(info.stack_id, info.size);
	}
	if (trace_all)
		trace(ctx, TRACE_ALLOC_EXIT, info.size, address);
	return 0;
}

static __noinline int gen_free_enter(void *ctx, u64 address)
{
	struct alloc_info_t *info = bpf_map_lookup_elem(&allocs, &address);
	if (!info)
		return 0;
	u64 size = info->size;
	update_statistics_del(info->stack_id, size);
	bpf_map_delete_elem(&allocs, &address);
	if (trace_all)
		trace(ctx, TRACE_FREE, size, address);
	return 0;
}

/* ---- user mode: attached by hand to libc's functions of the traced process */
SEC("uprobe") int BPF_KPROBE(malloc_enter, size_t size) { return gen_alloc_enter(ctx, size, MALLOC); }
SEC("uretprobe") int BPF_KRETPROBE(malloc_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret, MALLOC); }
SEC("uprobe") int BPF_KPROBE(calloc_enter, size_t nmemb, size_t size) { return gen_alloc_enter(ctx, nmemb * size, CALLOC); }
SEC("uretprobe") int BPF_KRETPROBE(calloc_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret, CALLOC); }
SEC("uprobe") int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
	gen_free_enter(ctx, (u64)ptr);
	return gen_alloc_enter(ctx, size, REALLOC);
}
SEC("uretprobe") int BPF_KRETPROBE(realloc_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret, REALLOC); }
SEC("uprobe") int BPF_KPROBE(mmap_enter, void *addr, size_t length) { return gen_alloc_enter(ctx, length, MMAP); }
SEC("uretprobe") int BPF_KRETPROBE(mmap_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret == (u64)-1 ? 0 : (u64)ret, MMAP); }
SEC("uprobe") int BPF_KPROBE(munmap_enter, void *addr) { return gen_free_enter(ctx, (u64)addr); }
SEC("uprobe") int BPF_KPROBE(free_enter, void *ptr) { return gen_free_enter(ctx, (u64)ptr); }
SEC("uprobe") int BPF_KPROBE(posix_memalign_enter, void **memptr, size_t alignment, size_t size)
{
	u64 where = (u64)memptr;
	u32 tid = bpfkit_tid();
	bpf_map_update_elem(&memptrs, &tid, &where, BPF_ANY);
	return gen_alloc_enter(ctx, size, POSIX_MEMALIGN);
}
SEC("uretprobe") int BPF_KRETPROBE(posix_memalign_exit, int ret)
{
	u32 tid = bpfkit_tid();
	u64 *where = bpf_map_lookup_elem(&memptrs, &tid);
	void *addr = 0;
	if (!where)
		return 0;
	u64 memptr = *where;
	bpf_map_delete_elem(&memptrs, &tid);
	/* it stores the block through memptr and returns 0, or returns an error and stores nothing */
	if (ret != 0 || bpf_probe_read_user(&addr, sizeof(addr), (void *)memptr))
		addr = 0;
	return gen_alloc_exit2(ctx, (u64)addr, POSIX_MEMALIGN);
}
SEC("uprobe") int BPF_KPROBE(aligned_alloc_enter, size_t alignment, size_t size) { return gen_alloc_enter(ctx, size, ALIGNED_ALLOC); }
SEC("uretprobe") int BPF_KRETPROBE(aligned_alloc_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret, ALIGNED_ALLOC); }
SEC("uprobe") int BPF_KPROBE(valloc_enter, size_t size) { return gen_alloc_enter(ctx, size, VALLOC); }
SEC("uretprobe") int BPF_KRETPROBE(valloc_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret, VALLOC); }
SEC("uprobe") int BPF_KPROBE(memalign_enter, size_t alignment, size_t size) { return gen_alloc_enter(ctx, size, MEMALIGN); }
SEC("uretprobe") int BPF_KRETPROBE(memalign_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret, MEMALIGN); }
SEC("uprobe") int BPF_KPROBE(pvalloc_enter, size_t size) { return gen_alloc_enter(ctx, size, PVALLOC); }
SEC("uretprobe") int BPF_KRETPROBE(pvalloc_exit, void *ret) { return gen_alloc_exit2(ctx, (u64)ret, PVALLOC); }

TRACEPOINT_PROBE(sched, sched_process_exec)
{
	if (bpfkit_tgid() == targ_tgid)
		exec_seen = true;
	return 0;
}

/* ---- kernel mode: an allocation tracepoint is its entry and its exit at once */
static __always_inline int kernel_alloc(void *ctx, u64 size, u64 address)
{
	if (wa_missing_free)
		gen_free_enter(ctx, address);
	gen_alloc_enter(ctx, size, KERNEL);
	return gen_alloc_exit2(ctx, address, KERNEL);
}

TRACEPOINT_PROBE(kmem, kmalloc) { return kernel_alloc(ctx, args->bytes_alloc, (u64)args->ptr); }
TRACEPOINT_PROBE(kmem, kfree) { return gen_free_enter(ctx, (u64)args->ptr); }
TRACEPOINT_PROBE(kmem, kmem_cache_alloc) { return kernel_alloc(ctx, args->bytes_alloc, (u64)args->ptr); }
TRACEPOINT_PROBE(kmem, kmem_cache_free) { return gen_free_enter(ctx, (u64)args->ptr); }
/* pages by frame number: they may be allocated through one interface and freed through another */
TRACEPOINT_PROBE(kmem, mm_page_alloc)
{
	gen_alloc_enter(ctx, page_size << args->order, KERNEL);
	return gen_alloc_exit2(ctx, args->pfn, KERNEL);
}
TRACEPOINT_PROBE(kmem, mm_page_free) { return gen_free_enter(ctx, args->pfn); }
TRACEPOINT_PROBE(percpu, percpu_alloc_percpu)
{
	gen_alloc_enter(ctx, args->size, KERNEL);
	return gen_alloc_exit2(ctx, (u64)args->ptr, KERNEL);
}
TRACEPOINT_PROBE(percpu, percpu_free_percpu) { return gen_free_enter(ctx, (u64)args->ptr); }
