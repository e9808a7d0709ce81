/* bpfkit.h — BCC-style macros over libbpf map definitions and SEC() names.
 * A BCC program ports with few edits: maps keep their BCC names and defaults, probes keep their
 * TRACEPOINT_PROBE/RAW_TRACEPOINT_PROBE/KFUNC_PROBE shape; map methods become map_* calls
 * (dist.increment(k) -> map_increment(dist, k)). Filters are `const volatile` globals set before load. */
#ifndef __BPFKIT_H
#define __BPFKIT_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#ifndef BPFKIT_NO_LICENSE
/* const: clang emits it read-only when it comes from the precompiled header, so the object is the
 * same byte for byte whether this header was precompiled or parsed. */
const char _bpfkit_license[] SEC("license") = "GPL";
#endif

/* ------------------------------------------------------------------ argument-count dispatch */
#define __BPFKIT_NARG(...) __BPFKIT_NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define __BPFKIT_NARG_(_1, _2, _3, _4, _5, _6, N, ...) N
#define __BPFKIT_CAT(a, b) __BPFKIT_CAT_(a, b)
#define __BPFKIT_CAT_(a, b) a##b
#define __BPFKIT_DISPATCH(macro, ...) __BPFKIT_CAT(macro, __BPFKIT_NARG(__VA_ARGS__))(__VA_ARGS__)

/* ------------------------------------------------------------------ maps */
#define BPF_TABLE(_type, _key, _value, _name, _max)                                                \
	struct {                                                                                   \
		__uint(type, _type);                                                               \
		__uint(max_entries, _max);                                                         \
		__type(key, _key);                                                                 \
		__type(value, _value);                                                             \
	} _name SEC(".maps")

/* BPF_TABLE with map flags, e.g. BPF_F_NO_PREALLOC for big values that are rarely used at once. */
#define BPF_TABLE_FLAGS(_type, _key, _value, _name, _max, _flags)                                   \
	struct {                                                                                   \
		__uint(type, _type);                                                               \
		__uint(max_entries, _max);                                                         \
		__type(key, _key);                                                                 \
		__type(value, _value);                                                             \
		__uint(map_flags, _flags);                                                         \
	} _name SEC(".maps")

#define BPF_HASH(...) __BPFKIT_DISPATCH(__BPF_HASH, __VA_ARGS__)
#define __BPF_HASH1(n) BPF_TABLE(BPF_MAP_TYPE_HASH, u64, u64, n, 10240)
#define __BPF_HASH2(n, k) BPF_TABLE(BPF_MAP_TYPE_HASH, k, u64, n, 10240)
#define __BPF_HASH3(n, k, v) BPF_TABLE(BPF_MAP_TYPE_HASH, k, v, n, 10240)
#define __BPF_HASH4(n, k, v, s) BPF_TABLE(BPF_MAP_TYPE_HASH, k, v, n, s)

#define BPF_LRU_HASH(...) __BPFKIT_DISPATCH(__BPF_LRU_HASH, __VA_ARGS__)
#define __BPF_LRU_HASH1(n) BPF_TABLE(BPF_MAP_TYPE_LRU_HASH, u64, u64, n, 10240)
#define __BPF_LRU_HASH2(n, k) BPF_TABLE(BPF_MAP_TYPE_LRU_HASH, k, u64, n, 10240)
#define __BPF_LRU_HASH3(n, k, v) BPF_TABLE(BPF_MAP_TYPE_LRU_HASH, k, v, n, 10240)
#define __BPF_LRU_HASH4(n, k, v, s) BPF_TABLE(BPF_MAP_TYPE_LRU_HASH, k, v, n, s)

#define BPF_PERCPU_HASH(...) __BPFKIT_DISPATCH(__BPF_PERCPU_HASH, __VA_ARGS__)
#define __BPF_PERCPU_HASH1(n) BPF_TABLE(BPF_MAP_TYPE_PERCPU_HASH, u64, u64, n, 10240)
#define __BPF_PERCPU_HASH2(n, k) BPF_TABLE(BPF_MAP_TYPE_PERCPU_HASH, k, u64, n, 10240)
#define __BPF_PERCPU_HASH3(n, k, v) BPF_TABLE(BPF_MAP_TYPE_PERCPU_HASH, k, v, n, 10240)
#define __BPF_PERCPU_HASH4(n, k, v, s) BPF_TABLE(BPF_MAP_TYPE_PERCPU_HASH, k, v, n, s)

#define BPF_ARRAY(...) __BPFKIT_DISPATCH(__BPF_ARRAY, __VA_ARGS__)
#define __BPF_ARRAY1(n) BPF_TABLE(BPF_MAP_TYPE_ARRAY, u32, u64, n, 10240)
#define __BPF_ARRAY2(n, v) BPF_TABLE(BPF_MAP_TYPE_ARRAY, u32, v, n, 10240)
#define __BPF_ARRAY3(n, v, s) BPF_TABLE(BPF_MAP_TYPE_ARRAY, u32, v, n, s)

#define BPF_PERCPU_ARRAY(...) __BPFKIT_DISPATCH(__BPF_PERCPU_ARRAY, __VA_ARGS__)
#define __BPF_PERCPU_ARRAY1(n) BPF_TABLE(BPF_MAP_TYPE_PERCPU_ARRAY, u32, u64, n, 10240)
#define __BPF_PERCPU_ARRAY2(n, v) BPF_TABLE(BPF_MAP_TYPE_PERCPU_ARRAY, u32, v, n, 10240)
#define __BPF_PERCPU_ARRAY3(n, v, s) BPF_TABLE(BPF_MAP_TYPE_PERCPU_ARRAY, u32, v, n, s)

/* BPF_HISTOGRAM(name): a 65-slot array indexed by bpf_log2l(); with a key type it is a hash whose
 * key's last field is the slot (sections: per disk, per pid, ...), as in BCC. */
#define BPF_HISTOGRAM(...) __BPFKIT_DISPATCH(__BPF_HISTOGRAM, __VA_ARGS__)
#define __BPF_HISTOGRAM1(n) BPF_TABLE(BPF_MAP_TYPE_ARRAY, u32, u64, n, 65)
#define __BPF_HISTOGRAM2(n, k) BPF_TABLE(BPF_MAP_TYPE_HASH, k, u64, n, 10240)
#define __BPF_HISTOGRAM3(n, k, s) BPF_TABLE(BPF_MAP_TYPE_HASH, k, u64, n, s)

#define BPF_STACK_TRACE(n, s)                                                                      \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                                            \
		__uint(max_entries, s);                                                            \
		__uint(key_size, sizeof(u32));                                                     \
		__uint(value_size, 127 * sizeof(u64));                                             \
	} n SEC(".maps")

#define BPF_PERF_OUTPUT(n)                                                                         \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                                       \
		__uint(key_size, sizeof(u32));                                                     \
		__uint(value_size, sizeof(u32));                                                   \
	} n SEC(".maps")

/* A ring buffer plus a per-CPU counter of records that did not fit: the library reads
 * <name>__lost and reports it, so a full buffer is never silent (BCC's ringbuf is, #3476).
 * For kernels without ring buffers (< 5.8) the same macros fall back to a perf buffer
 * (<name>__perf, records built in a per-CPU <name>__heap): the library turns
 * __bpfkit_ringbuf off before load and does not create the maps the kernel cannot have;
 * the verifier skips the branch that is dead. Records are at most BPFKIT_HEAP_SIZE bytes. */
#ifndef BPFKIT_HEAP_SIZE
#define BPFKIT_HEAP_SIZE 8192
#endif
const volatile bool __bpfkit_ringbuf = true;
struct __bpfkit_heap { u8 data[BPFKIT_HEAP_SIZE]; };

#define BPF_RINGBUF_OUTPUT(n, pages)                                                               \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, (pages) * 4096);                                               \
	} n SEC(".maps");                                                                          \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                                       \
		__uint(key_size, sizeof(u32));                                                     \
		__uint(value_size, sizeof(u32));                                                   \
	} n##__perf SEC(".maps");                                                                  \
	BPF_TABLE(BPF_MAP_TYPE_PERCPU_ARRAY, u32, struct __bpfkit_heap, n##__heap, 1);             \
	BPF_TABLE(BPF_MAP_TYPE_PERCPU_ARRAY, u32, u64, n##__lost, 1);                              \
	u64 n##__woken_ns

/* Whether a commit wakes the consumer up. A wakeup costs the producer ~3 us on these VMs (irq_work's
 * self-IPI), several times what a small probe costs otherwise: a record is left for the consumer, which
 * looks every 10 ms anyway (lib/events/ringbuf.ts), until an eighth of the ring waits; from then on at
 * most one wakeup per 0.5 ms goes out, so a burst is drained long before the ring is full. */
static __always_inline u64 __bpfkit_wakeup(void *rb, u64 *woken_ns)
{
	if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) < bpf_ringbuf_query(rb, BPF_RB_RING_SIZE) / 8)
		return BPF_RB_NO_WAKEUP;
	u64 now = bpf_ktime_get_ns();
	if (now - *woken_ns < 500000)
		return BPF_RB_NO_WAKEUP;
	*woken_ns = now;
	return BPF_RB_FORCE_WAKEUP;
}

/* Keeps a type's BTF in the object even when only pointers from bpf_ringbuf_reserve() use it, so user
 * space can decode events by struct name: BPFKIT_EXPORT_TYPE(struct event); at file scope. */
#define BPFKIT_EXPORT_TYPE(type) __BPFKIT_EXPORT_TYPE(type, __COUNTER__)
#define __BPFKIT_EXPORT_TYPE(type, n) __BPFKIT_EXPORT_TYPE_(type, n)
#define __BPFKIT_EXPORT_TYPE_(type, n) type *__bpfkit_export_##n __attribute__((unused))

/* ------------------------------------------------------------------ map methods */
/* lookup-or-init then atomic add: BCC's table.increment(key[, n]) for hash and array maps. */
#define map_add(map, key, n)                                                                       \
	({                                                                                         \
		typeof(key) __k = (key);                                                           \
		u64 *__v = bpf_map_lookup_elem(&(map), &__k);                                      \
		if (__v) {                                                                         \
			__sync_fetch_and_add(__v, (n));                                            \
		} else {                                                                           \
			u64 __init = (n);                                                          \
			/* another CPU may have added the key meanwhile: then add to its entry */  \
			if (bpf_map_update_elem(&(map), &__k, &__init, BPF_NOEXIST)) {             \
				__v = bpf_map_lookup_elem(&(map), &__k);                           \
				if (__v)                                                           \
					__sync_fetch_and_add(__v, (n));                            \
			}                                                                          \
		}                                                                                  \
	})
#define map_increment(map, key) map_add(map, key, 1)

static __always_inline void *__bpfkit_lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *v = bpf_map_lookup_elem(map, key);
	if (v)
		return v;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}
#define map_lookup_or_try_init(map, keyp, initp) __bpfkit_lookup_or_try_init(&(map), keyp, initp)

static __always_inline void __bpfkit_count_lost(void *lost_map)
{
	u32 zero = 0;
	u64 *c = bpf_map_lookup_elem(lost_map, &zero);
	if (c)
		*c += 1; /* per-CPU slot: no atomics needed */
}

/* Reserve a record of `type` in ring buffer `rb`; counts the loss and yields NULL when full. */
#define ringbuf_reserve(rb, type)                                                                  \
	({                                                                                         \
		_Static_assert(sizeof(type) <= BPFKIT_HEAP_SIZE, "record larger than BPFKIT_HEAP_SIZE"); \
		type *__p;                                                                         \
		if (__bpfkit_ringbuf) {                                                            \
			__p = bpf_ringbuf_reserve(&(rb), sizeof(type), 0);                         \
		} else {                                                                           \
			u32 __zero = 0;                                                            \
			__p = (type *)bpf_map_lookup_elem(&(rb##__heap), &__zero);                 \
		}                                                                                  \
		if (!__p)                                                                          \
			__bpfkit_count_lost(&(rb##__lost));                                        \
		__p;                                                                               \
	})
/* Publish a reserved record; `ctx` (the probe's context) must be in scope, as in every probe macro. */
#define ringbuf_submit(rb, p)                                                                      \
	({                                                                                         \
		if (__bpfkit_ringbuf)                                                              \
			bpf_ringbuf_submit((p), __bpfkit_wakeup(&(rb), &(rb##__woken_ns)));        \
		else if (bpf_perf_event_output(ctx, &(rb##__perf), BPF_F_CURRENT_CPU, (p), sizeof(*(p)))) \
			__bpfkit_count_lost(&(rb##__lost));                                        \
	})
#define ringbuf_discard(rb, p)                                                                     \
	({                                                                                         \
		if (__bpfkit_ringbuf)                                                              \
			bpf_ringbuf_discard((p), 0);                                               \
	})
/* Copy `size` bytes from `data` into ring buffer `rb`, counting a loss when full. */
#define ringbuf_output(rb, data, size)                                                             \
	({                                                                                         \
		long __r = __bpfkit_ringbuf ? bpf_ringbuf_output(&(rb), (data), (size), __bpfkit_wakeup(&(rb), &(rb##__woken_ns))) \
					    : bpf_perf_event_output(ctx, &(rb##__perf), BPF_F_CURRENT_CPU, (data), (size)); \
		if (__r)                                                                           \
			__bpfkit_count_lost(&(rb##__lost));                                        \
		__r;                                                                               \
	})
#define perf_submit(map, ctx, data, size) bpf_perf_event_output((ctx), &(map), BPF_F_CURRENT_CPU, (data), (size))

/* ------------------------------------------------------------------ probes */
/* TRACEPOINT_PROBE(category, event): `args` points at the event's fields (and `ctx` is the same
 * context, for helpers that want it); bpfkit generates struct tracepoint__category__event from
 * tracefs' format file when it compiles the program. */
#define TRACEPOINT_PROBE(category, event)                                                          \
	static __always_inline int ____##category##__##event(void *ctx,                            \
		struct tracepoint__##category##__##event *args);                                   \
	SEC("tracepoint/" #category "/" #event)                                                    \
	int tracepoint__##category##__##event(struct tracepoint__##category##__##event *args)      \
	{                                                                                          \
		return ____##category##__##event(args, args);                                      \
	}                                                                                          \
	static __always_inline int ____##category##__##event(void *ctx,                            \
		struct tracepoint__##category##__##event *args)

#define RAW_TRACEPOINT_PROBE(event)                                                                \
	SEC("raw_tp/" #event)                                                                      \
	int raw_tracepoint__##event(struct bpf_raw_tracepoint_args *ctx)

/* The same handler as a tp_btf program and its raw_tp fallback: bpfkit loads the best the kernel has.
 * BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_start(rq, true), struct request *rq)
 * defines rq_issue_btf and rq_issue_raw, each returning rq_start(rq, true). The call must read
 * kernel memory with BPF_CORE_READ (raw_tp has no BTF-typed pointers). */
#define BTF_TRACEPOINT_PROBE(event, name, call, args...)                                            \
	SEC("tp_btf/" #event) int BPF_PROG(name##_btf, ##args) { return call; }                    \
	SEC("raw_tp/" #event) int BPF_PROG(name##_raw, ##args) { return call; }

#define KFUNC_PROBE(event, args...) SEC("fentry/" #event) int BPF_PROG(kfunc__##event, ##args)
#define KRETFUNC_PROBE(event, args...) SEC("fexit/" #event) int BPF_PROG(kretfunc__##event, ##args)

/* __data_loc fields of tracepoints: the low 16 bits are the offset of the data from the record. */
#define TP_DATA_LOC_READ_STR(dst, field, length)                                                   \
	bpf_probe_read_kernel_str((void *)(dst), (length), (char *)args + (args->data_loc_##field & 0xFFFF))
#define TP_DATA_LOC_READ(dst, field, length)                                                       \
	bpf_probe_read_kernel((void *)(dst), (length), (char *)args + (args->data_loc_##field & 0xFFFF))

/* ------------------------------------------------------------------ helpers */
/* BCC's log2 with the +1 slot convention: 0 and 1 -> 1, 2-3 -> 2, 4-7 -> 3 ... (slot 0 unused). */
static __always_inline u32 bpf_log2(u32 v)
{
	u32 r, shift;
	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}
static __always_inline u32 bpf_log2l(u64 v)
{
	u32 hi = v >> 32;
	if (hi)
		return bpf_log2(hi) + 32 + 1;
	return bpf_log2(v) + 1;
}
#define log2l bpf_log2l

/* libbpf 1.1 names five argument registers; a function's sixth (funcslower -a, trace arg6) */
#ifndef PT_REGS_PARM6
#if defined(__TARGET_ARCH_x86)
#define PT_REGS_PARM6(x) (((struct pt_regs *)(x))->r9)
#elif defined(__TARGET_ARCH_arm64)
#define PT_REGS_PARM6(x) (((const struct user_pt_regs *)(x))->regs[5])
#endif
#endif

#define lock_xadd(ptr, val) ((void)__sync_fetch_and_add(ptr, val))

static __always_inline u32 bpfkit_tgid(void) { return bpf_get_current_pid_tgid() >> 32; }
static __always_inline u32 bpfkit_tid(void) { return (u32)bpf_get_current_pid_tgid(); }

/* libbpf-tools' comm filter (-c COMM): every character of `want` matches `comm`, so an empty `want`
 * matches all and a shorter one is a prefix. `want` is a const volatile global set before load. */
static __always_inline bool bpfkit_comm_matches(const volatile char *want, const char *comm)
{
	for (int i = 0; i < TASK_COMM_LEN && want[i] != '\0'; i++)
		if (comm[i] != want[i])
			return false;
	return true;
}

#endif /* __BPFKIT_H */
