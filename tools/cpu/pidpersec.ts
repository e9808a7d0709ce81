#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// pidpersec: new processes (and threads: every task the kernel forks) per second. Port of BCC's
// pidpersec, at the sched:sched_process_fork tracepoint as bpftrace's and libbpf-tools' (BCC's
// kprobe on sched_fork counts the same forks). bpfkit adds -p PID (forks made by that process only)
// and BCC's usual [interval] [count].
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 filter_pid = 0;   /* -p: forks whose parent is this process */

BPF_ARRAY(stats, u64, 1);

TRACEPOINT_PROBE(sched, sched_process_fork)
{
	if (filter_pid && bpfkit_tgid() != filter_pid)  /* the parent forks: it is the current task */
		return 0;
	u32 zero = 0;
	u64 *count = bpf_map_lookup_elem(&stats, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}
`;

interface Options {
  pid?: number;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'pidpersec',
  subsystem: 'cpu',
  description: 'Count new processes (via fork) per second',
  ports: { bcc: 'tools/pidpersec.py', 'libbpf-tools': 'libbpf-tools/pidpersec.bpf.c', bpftrace: 'tools/pidpersec.bt', book: 'chapter 6, CPUs' },
  probes: { tracepoint: ['sched/sched_process_fork'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['new_processes'] }),
  program,
  options: {
    pid: opt.pid('count only the forks of this process'),
  },
  positional: '[interval] [count]',
  examples: [
    ['pidpersec', 'count new processes every second'],
    ['pidpersec -p 181', 'count only the processes PID 181 forks'],
    ['pidpersec 5 3', 'count over 5 seconds, 3 times'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : intervalCount(opts).interval; // BCC: every second
    const bpf = load({ rodata: { filter_pid: opts.pid ?? 0 } });
    bpf.attachAll();
    const stats = bpf.map<number, bigint>('stats');
    banner('Tracing... Ctrl-C to end.');
    // the counter only grows: an interval's count is the difference (clearing it could lose a fork)
    let before = 0n;
    await intervals(interval, count, (_last, seconds) => {
      const total = stats.get(0) ?? 0n;
      const n = Number(total - before);
      before = total;
      if (json) emit.counts(seconds, [{ new_processes: n }]);
      else out.line(`${strftimeHMS()}: PIDs/sec: ${n}`);
    });
  },
});
