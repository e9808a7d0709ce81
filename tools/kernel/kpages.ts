#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// kpages: kernel page allocations (kmem:mm_page_alloc) counted by the kernel stack that asked and
// the process name (the book's kpages.bt, bpftrace's count() print). bpfkit adds -p PID and
// [interval] [count].
import { defineTool, opt } from '../../lib/cli/index.js';
import { allocStacksRun } from '../../lib/host/kalloc.js';

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

  run: allocStacksRun({
    banner: 'Tracing page allocation stacks. Hit Ctrl-C to end.',
    valueField: 'count',
    fields: s => ({ count: s.count, pages: s.total }),
    rank: s => s.count,
    line: (key, s) => `@pages[${key}]: ${s.count}`,
  }),
});
