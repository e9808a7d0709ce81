/* bpfkit_hist.h — the start-timestamp → log2-histogram pattern the latency tools share (cpudist,
 * hardirqs -d, softirqs -d, syscount -L, runqslower): stamp a key when something starts, take the
 * time since when it ends, and count it in one histogram or in one section per process/thread. */
#ifndef __BPFKIT_HIST_H
#define __BPFKIT_HIST_H

#include <bpfkit.h>

/* What a histogram's sections are keyed by (BCC's -P / -L). */
enum bpfkit_per { BPFKIT_PER_NONE, BPFKIT_PER_PROCESS, BPFKIT_PER_THREAD };

/* The key of a sectioned histogram: the section (PID, TID, IRQ number...) and BCC's log2 slot. */
struct bpfkit_hist_key { u32 id; u32 slot; };

/* BCC's log2 slot of a value, kept inside a BPF_HISTOGRAM's 65 slots. */
static __always_inline u32 bpfkit_log2_slot(u64 value)
{
	u32 slot = bpf_log2l(value);
	return slot > 64 ? 64 : slot;
}

/* Stamps `key` in the start map `map` (u64 ns values) with the time `ts`. */
#define stamp_start(map, key, ts)                                                                  \
	({                                                                                         \
		typeof(key) __sk = (key);                                                          \
		u64 __sts = (ts);                                                                  \
		bpf_map_update_elem(&(map), &__sk, &__sts, BPF_ANY);                               \
	})

/* The ns from `key`'s stamp to `now`, the stamp deleted; false (and *elapsed untouched) when there
 * is none, or when it is later than `now` (another CPU's clock read: not a duration). */
#define take_elapsed(map, key, now, elapsed)                                                      \
	({                                                                                         \
		typeof(key) __tk = (key);                                                          \
		u64 *__tts = bpf_map_lookup_elem(&(map), &__tk);                                   \
		bool __found = __tts && (now) >= *__tts;                                           \
		if (__found)                                                                       \
			*(elapsed) = (now) - *__tts;                                               \
		if (__tts)                                                                         \
			bpf_map_delete_elem(&(map), &__tk);                                        \
		__found;                                                                           \
	})

/* Counts `value` in histogram `dist` (BPF_HISTOGRAM), or, when `sectioned`, in section `section` of
 * `dist_by` (BPF_HISTOGRAM keyed by struct bpfkit_hist_key). */
#define hist_record(dist, dist_by, sectioned, section, value)                                           \
	({                                                                                         \
		u32 __slot = bpfkit_log2_slot(value);                                              \
		if (sectioned) {                                                                   \
			struct bpfkit_hist_key __hk = { .id = (section), .slot = __slot };              \
			map_increment(dist_by, __hk);                                              \
		} else {                                                                           \
			map_increment(dist, __slot);                                               \
		}                                                                                  \
	})

#endif /* __BPFKIT_HIST_H */
