#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// threaded: which threads are on CPU, sampled at 99 Hertz (cpu-clock on every CPU) and counted per
// thread each interval: the book's threaded.bt (chapter 13), with BCC's [interval] [count]. The book
// takes the PID as its argument; here it is -p, and without it every process is sampled.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_pid = 0;

struct thread_key {
	u32 pid;
	u32 tid;
	char comm[16];
};

BPF_HASH(samples, struct thread_key, u64, 10240);

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct thread_key key = { .pid = pid_tgid >> 32, .tid = (u32)pid_tgid };
	if (!key.tid)       /* the idle task */
		return 0;
	if (targ_pid && key.pid != targ_pid)
		return 0;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	map_increment(samples, key);
	return 0;
}
`;

const HZ = 99;

interface Options { pid?: number; interval?: string; count?: string }
interface ThreadKey { pid: number; tid: number; comm: string }

defineTool<Options>({
  name: 'threaded',
  subsystem: 'app',
  description: 'Sample on-CPU threads of a process (or all) at 99 Hertz, per interval',
  ports: { bpftrace: 'tools/threaded.bt', book: 'chapter 13, Applications' },
  probes: { perf_event: ['cpu-clock at 99 Hz on every CPU'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-p', '1', '1', '2'], ends: 'itself' }],
  records: () => ({ fields: ['pid', 'tid', 'comm', 'samples'] }),
  program,
  options: {
    pid: opt.pid('sample this PID\'s threads only'),
  },
  positional: '[interval] [count]',
  examples: [
    ['threaded -p 2155', 'sample the threads of PID 2155, a summary each second'],
    ['threaded -p 2155 5 3', 'three 5-second summaries'],
    ['threaded', 'sample the threads of every process'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount({ interval: opts.interval ?? '1', count: opts.count });
    const bpf = load({ rodata: { targ_pid: opts.pid ?? 0 } });
    bpf.attachPerfEvent('on_cpu_sample', { type: 1, config: 0, frequency: HZ });
    banner(`Sampling ${opts.pid ? `PID ${opts.pid}` : 'all'} threads at ${HZ} Hertz. Ctrl-C to end.`);
    const samples = bpf.map<ThreadKey, bigint>('samples');

    await intervals(interval, count, (_last, seconds) => {
      // as bpftrace prints a count map: smallest first
      const rows = samples.drain().map(([k, n]) => ({ ...k, samples: Number(n) }))
        .sort((a, b) => a.samples - b.samples || a.pid - b.pid || a.tid - b.tid);
      if (json) {
        emit.counts(seconds, rows.map(r => ({ pid: r.pid, tid: r.tid, comm: r.comm, samples: r.samples })));
        return;
      }
      out.line(strftimeHMS());
      for (const r of rows) out.line(opts.pid ? `@[${r.comm}, ${r.tid}]: ${r.samples}` : `@[${r.comm}, ${r.pid}, ${r.tid}]: ${r.samples}`);
    });
  },
});
