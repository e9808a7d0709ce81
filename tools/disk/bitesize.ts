#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// bitesize: block device I/O size as a log2 histogram of Kbytes, one per process name. Port of BCC's
// bitesize (the histograms) with libbpf-tools' options (-c COMM, -d DISK, -T, interval and count).
//
// Probe: block_rq_issue, as a BTF tracepoint (or raw tracepoint where tp_btf is refused), given the
// `struct request *`: its size is __data_len, and the process is the one issuing the request, as the
// tracepoint's own comm field shows it (BCC and libbpf-tools take the same). The options, output
// and per-comm histogram are seeksize's too (lib/cli/comm-histogram.ts, bpfkit_comm_hist.h).
import { defineCommHistogramTool } from '../../lib/cli/comm-histogram.js';

const program = `
#include <bpfkit_comm_hist.h>   /* -c/-d filters, the per-comm histogram dist, comm_hist_count() */

static __always_inline int rq_issue(struct request *rq)
{
	if (filter_dev && rq_dev(rq) != targ_dev)
		return 0;
	comm_hist_count(BPF_CORE_READ(rq, __data_len) / 1024);
	return 0;
}

BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request *rq)
`;

defineCommHistogramTool({
  name: 'bitesize',
  description: 'Summarize block device I/O size as a histogram per process',
  ports: { bcc: 'tools/bitesize.py', 'libbpf-tools': 'libbpf-tools/bitesize.bpf.c', bpftrace: 'tools/bitesize.bt', book: 'chapter 9, Disk I/O' },
  program,
  examples: [
    ['bitesize', 'summarize block I/O size as a histogram'],
    ['bitesize 1 10', 'print 1 second summaries, 10 times'],
    ['bitesize -T 1', '1s summaries with timestamps'],
    ['bitesize -c fio', 'trace fio only'],
    ['bitesize -d vda', 'trace vda only'],
  ],
  banner: 'Tracing block I/O... Hit Ctrl-C to end.',
  unit: 'Kbytes',
  sectionHeader: 'Process Name',
});
