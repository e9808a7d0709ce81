#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// cpuwalk: which CPUs processes run on, as a linear histogram of CPU numbers (bpftrace's cpuwalk.bt,
// from the book). Every CPU is sampled at 99 Hz (perf_event cpu-clock: bpftrace's profile:hz:99) and a
// sample counts when a task other than the idle one (PID 0) was running. bpfkit adds -p PID (samples
// of that process only) and BCC's [interval] [count]; the histogram is bpftrace's lhist print.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { formatBpftraceLinear, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 filter_pid = 0;   /* -p */

BPF_HISTOGRAM(cpu, u32, 1024);      /* linear: CPU number -> samples */

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	u32 pid = bpfkit_tgid();
	if (pid == 0 || (filter_pid && pid != filter_pid))  /* bpftrace's /pid/: not idle */
		return 0;
	u32 c = bpf_get_smp_processor_id();
	map_increment(cpu, c);
	return 0;
}
`;

interface Options {
  pid?: number;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'cpuwalk',
  subsystem: 'cpu',
  description: 'Sample which CPUs are executing processes',
  ports: { bpftrace: 'tools/cpuwalk.bt', book: 'chapter 6, CPUs' },
  probes: { perf_event: ['cpu-clock at 99 Hz on every CPU'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({}),
  program,
  options: {
    pid: opt.pid('sample this process only'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['cpuwalk', 'sample CPUs at 99 Hz until Ctrl-C, then print the histogram'],
    ['cpuwalk 1 5', 'print a histogram every second, 5 times'],
    ['cpuwalk -p 181', 'which CPUs PID 181 runs on'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { filter_pid: opts.pid ?? 0 } });
    bpf.attachPerfEvent('do_sample', { frequency: 99 });
    const hist = bpf.histogram('cpu');
    banner('Sampling CPU at 99hz... Hit Ctrl-C to end.');
    await intervals(interval, count, () => {
      const data = hist.read(true);
      if (json) return emit.histogram(hist.json('cpu', { linear: true }, data));
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      out.write(formatBpftraceLinear(data.slots, 'cpu'));
    });
  },
});
