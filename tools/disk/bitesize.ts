#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// bitesize: block device I/O size as a log2 histogram of Kbytes, one per process name. Port of BCC's
// bitesize (the histograms) with libbpf-tools' options (-c COMM, -d DISK, -T, interval and count).
//
// Probe: block_rq_issue, as a BTF tracepoint (or raw tracepoint where tp_btf is refused), given the
// `struct request *`: its size is __data_len, and the process is the one issuing the request, as the
// tracepoint's own comm field shows it (BCC and libbpf-tools take the same).
import { defineTool, diskRodata, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

const program = `
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

static __always_inline int rq_issue(struct request *rq)
{
	struct proc_key key = {};

	if (filter_dev && rq_dev(rq) != targ_dev)
		return 0;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (!bpfkit_comm_matches(targ_comm, key.comm))
		return 0;
	key.slot = bpf_log2l(BPF_CORE_READ(rq, __data_len) / 1024);
	map_increment(dist, key);
	return 0;
}

BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request *rq)
`;

interface Options {
  comm?: string;
  disk?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'bitesize',
  subsystem: 'disk',
  description: 'Summarize block device I/O size as a histogram per process',
  ports: { bcc: 'tools/bitesize.py', 'libbpf-tools': 'libbpf-tools/bitesize.bpf.c', bpftrace: 'tools/bitesize.bt', book: 'chapter 9, Disk I/O' },
  probes: { tp_btf: ['block_rq_issue'], raw_tp: ['block_rq_issue'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    comm: opt.comm('trace this comm only (a process name, or its beginning)'),
    disk: opt.disk(),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['bitesize', 'summarize block I/O size as a histogram'],
    ['bitesize 1 10', 'print 1 second summaries, 10 times'],
    ['bitesize -T 1', '1s summaries with timestamps'],
    ['bitesize -c fio', 'trace fio only'],
    ['bitesize -d vda', 'trace vda only'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_comm: opts.comm ?? '', ...diskRodata(opts.disk) } });
    bpf.attachAll();
    const dist = bpf.histogram('dist');
    const section = { sectionHeader: 'Process Name' };
    banner('Tracing block I/O... Hit Ctrl-C to end.');

    await intervals(interval, count, () => {
      const data = dist.read(true);
      if (json) {
        emit.histogram(dist.json('Kbytes', { sectionHeader: 'comm' }, data));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      out.write(dist.format('Kbytes', section, data));
    });
  },
});
