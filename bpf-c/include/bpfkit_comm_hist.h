/* bpfkit_comm_hist.h — the per-process log2 histogram of block requests that bitesize and seeksize
 * share: libbpf-tools' -c COMM (a prefix of the process name) and -d DISK filters as const volatile
 * globals, the histogram keyed by the issuing process's name, and the one step that counts a value. */
#ifndef __BPFKIT_COMM_HIST_H
#define __BPFKIT_COMM_HIST_H

#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev() */

const volatile char targ_comm[TASK_COMM_LEN] = {};  /* -c: a prefix of the comm; empty: all */
const volatile bool filter_dev = false;             /* -d DISK */
const volatile u32 targ_dev = 0;

struct proc_key {
	char comm[TASK_COMM_LEN];
	u64 slot;
};

BPF_HISTOGRAM(dist, struct proc_key);

/* Adds one to log2(value)'s slot of the current process's histogram, if -c lets it. */
static __always_inline void comm_hist_count(u64 value)
{
	struct proc_key key = {};

	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (!bpfkit_comm_matches(targ_comm, key.comm))
		return;
	key.slot = bpf_log2l(value);
	map_increment(dist, key);
}

#endif /* __BPFKIT_COMM_HIST_H */
