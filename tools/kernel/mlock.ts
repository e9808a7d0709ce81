#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// mlock: kernel mutex lock latency as bpftrace histograms in nanoseconds, by lock, the caller's
// kernel stack (5 frames) and process name (the book's mlock.bt). The book times mutex_lock() with a
// kprobe and a kretprobe; this kernel has neither, so it times the waits that lock:contention_begin
// and contention_end bracket for mutexes: contended locks only (an uncontended mutex_lock takes no
// time worth a histogram, and fires no tracepoint). bpfkit adds -p PID and [interval] [count].
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { bpftraceKey, bpftraceLog2ToBcc, formatBpftraceLog2, log2HistJson, strftimeHMS } from '../../lib/output/index.js';
import { KernelSymbols } from '../../lib/syms/index.js';
import { lockCaller } from '../../lib/host/locks.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_lock.h>

struct lat_key { u64 lock; s64 stack_id; char comm[TASK_COMM_LEN]; u64 slot; };
BPF_HISTOGRAM(lock_latency_ns, struct lat_key);

TRACEPOINT_PROBE(lock, contention_begin)
{
	return lock_wait_begin(ctx, (u64)args->lock_addr, args->flags);
}

TRACEPOINT_PROBE(lock, contention_end)
{
	struct lock_wait w;
	u64 delta = lock_wait_end((u64)args->lock_addr, &w);
	if (!delta)
		return 0;
	struct lat_key key = { .lock = w.lock, .stack_id = w.stack_id, .slot = bpf_log2l(delta) };
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	map_increment(lock_latency_ns, key);
	return 0;
}
`;

interface Options {
  pid?: number;
  interval?: string;
  count?: string;
}

interface LatKey { lock: bigint; stack_id: bigint; comm: string }

defineTool<Options>({
  name: 'mlock',
  subsystem: 'kernel',
  description: 'Kernel mutex lock latency by lock, stack and process, as histograms',
  ports: { book: 'chapter 14, Kernel (mlock.bt)' },
  probes: { tracepoint: ['lock/contention_begin', 'lock/contention_end'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'lock_stack_comm' }),
  program,
  options: {
    pid: opt.pid('trace this process only'),
  },
  positional: '[interval] [count]',
  examples: [
    ['mlock', 'mutex lock latency until Ctrl-C'],
    ['mlock -p 181', 'mutex waits of PID 181 only'],
    ['mlock 5 1', 'trace for 5 seconds'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const ksyms = KernelSymbols.load();
    const bpf = load({ rodata: { filter_pid: opts.pid ?? 0, mutex_only: true } });
    bpf.attachAll();
    process.stderr.write('mlock: contended mutex waits at lock:contention_begin/end: this kernel has no kprobes for mutex_lock()\n');
    const hist = bpf.histogram('lock_latency_ns');
    banner('Tracing mutex_lock() latency... Hit Ctrl-C to end.');
    await intervals(interval, count, () => {
      const sections = hist.read(true).sections.map(s => {
        const k = s.raw as LatKey;
        const frames = lockCaller(ksyms, bpf.stackIps('lock_stacks', Number(k.stack_id))).slice(0, 5).map(f => f.bpftrace);
        const lock = ksyms.resolve(k.lock);
        return { lock: lock && lock.offset === 0 ? lock.name : `0x${k.lock.toString(16)}`, frames, comm: k.comm, slots: s.slots, total: s.slots.reduce((a, b) => a + b, 0) };
      });
      sections.sort((a, b) => a.total - b.total); // bpftrace: smallest total first
      if (json) {
        emit.histogram({ val_type: 'nsecs', scale: 'log2', section_by: 'lock_stack_comm', sections: sections.map(s => {
          const { buckets, total } = log2HistJson(bpftraceLog2ToBcc(s.slots), 'nsecs');
          return { key: `${s.lock};${s.frames.join(';')};${s.comm}`, total, buckets };
        }) });
        return;
      }
      out.line('');
      if (interval < 99999999) out.line(strftimeHMS());
      for (const s of sections) out.write(formatBpftraceLog2(s.slots, 'lock_latency_ns', bpftraceKey([s.lock, s.frames, s.comm])));
    });
  },
});
