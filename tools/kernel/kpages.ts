#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// kpages: kernel page allocations (kmem:mm_page_alloc) counted by the kernel stack that asked and
// the process name (the book's kpages.bt, bpftrace's count() print). bpfkit adds -p PID and
// [interval] [count].
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { bpftraceKey, strftimeHMS } from '../../lib/output/index.js';
import { KernelSymbols } from '../../lib/syms/index.js';
import { byStackAndComm, readAllocStacks } from '../../lib/host/kalloc.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_kalloc.h>

TRACEPOINT_PROBE(kmem, mm_page_alloc)
{
	return count_alloc(args, 1ULL << args->order);   /* total: pages */
}
`;

interface Options {
  pid?: number;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'kpages',
  subsystem: 'kernel',
  description: 'Kernel page allocations by stack and process',
  ports: { book: 'chapter 14, Kernel (kpages.bt)' },
  probes: { tracepoint: ['kmem/mm_page_alloc'] },
  output: 'stacks',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    pid: opt.pid('trace this process only'),
  },
  positional: '[interval] [count]',
  examples: [
    ['kpages', 'page allocations by stack and process name, until Ctrl-C'],
    ['kpages -p 181', 'the page allocations PID 181 makes'],
    ['kpages 5 1', 'trace for 5 seconds'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const ksyms = KernelSymbols.load();
    const bpf = load({ rodata: { filter_pid: opts.pid ?? 0 } });
    bpf.attachAll();
    banner('Tracing page allocation stacks. Hit Ctrl-C to end.');
    await intervals(interval, count, (_last, seconds) => {
      const stacks = readAllocStacks(bpf, ksyms);
      if (json) {
        stacks.sort((a, b) => b.count - a.count);
        emit.stacks(seconds, 'count', stacks.map(s => ({ pid: s.pid, comm: s.comm, kernel_stack: s.frames, count: s.count, pages: s.total })),
          { missed_stacks: stacks.filter(s => s.frames === null).length });
        return;
      }
      out.line('');
      if (interval < 99999999) out.line(strftimeHMS());
      const merged = byStackAndComm(stacks).sort((a, b) => a.count - b.count); // bpftrace: smallest first
      for (const s of merged) out.line(`@pages[${bpftraceKey([s.frames ?? ['[Missed Kernel Stack]'], s.comm])}]: ${s.count}`);
    });
  },
});
