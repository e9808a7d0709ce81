#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// seeksize: requested I/O seek distances, in sectors, as a log2 histogram per process name. Port of
// the BPF Performance Tools book's seeksize.bt, printed as BCC prints histograms (the kit's one
// format), with bitesize's -c/-d/-T and [interval] [count].
//
// Probe: block_rq_issue, as a BTF tracepoint (or raw tracepoint), given the `struct request *`. The
// distance is from where the disk's previous issued request ended to where this one starts, either
// way; a disk's first request only sets that position. Requests that move no data (flushes: no
// sector) are left out: they ask for no seek (the book's version counts them as a seek to sector 0).
// The options, output and per-comm histogram are bitesize's too (lib/cli/comm-histogram.ts).
import { defineCommHistogramTool } from '../../lib/cli/comm-histogram.js';

const program = `
#include <bpfkit_comm_hist.h>   /* -c/-d filters, the per-comm histogram dist, comm_hist_count() */

struct position {
	u64 next_sector; /* where the previous request ended */
	u32 dev;         /* read once, when the disk is first seen */
};

/* By request queue (one per disk): the disk's dev_t is read once, not at every request. */
BPF_HASH(last, u64, struct position, 256);

static __always_inline int rq_issue(struct request *rq)
{
	u32 bytes = BPF_CORE_READ(rq, __data_len);
	if (!bytes)
		return 0; /* no data, no seek */
	u64 queue = (u64)BPF_CORE_READ(rq, q);
	u64 sector = BPF_CORE_READ(rq, __sector);
	u64 next = sector + (bytes >> 9);
	struct position *pos = bpf_map_lookup_elem(&last, &queue);

	if (!pos) {
		struct position first = { .next_sector = next, .dev = rq_dev(rq) };
		bpf_map_update_elem(&last, &queue, &first, BPF_NOEXIST);
		return 0;
	}
	u64 prev = pos->next_sector;
	pos->next_sector = next;
	if (filter_dev && pos->dev != targ_dev)
		return 0;
	comm_hist_count(sector > prev ? sector - prev : prev - sector);
	return 0;
}

BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request *rq)
`;

defineCommHistogramTool({
  name: 'seeksize',
  description: 'Show requested block I/O seek distances as a histogram per process',
  ports: { book: 'originals/Ch09_Disks/seeksize.bt' },
  program,
  examples: [
    ['seeksize', 'show requested seek distances per process'],
    ['seeksize 1 10', 'print 1 second summaries, 10 times'],
    ['seeksize -d vda', 'trace vda only'],
    ['seeksize -c postgres', 'trace processes named postgres... only'],
  ],
  banner: 'Tracing block I/O requested seeks... Hit Ctrl-C to end.',
  unit: 'sectors',
  sectionHeader: 'comm',
});
