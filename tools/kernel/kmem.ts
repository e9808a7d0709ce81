#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// kmem: kernel memory allocations (kmalloc, kmem_cache_alloc) by the kernel stack that made them
// (5 frames) and process name, with their count, average and total bytes (the book's kmem.bt, which
// prints bpftrace's stats()). Since 6.1 the tracepoints have no *_node variants: the two cover all.
// bpfkit adds -p PID and [interval] [count].
import { defineTool, opt } from '../../lib/cli/index.js';
import { allocStacksRun } from '../../lib/host/kalloc.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_kalloc.h>

TRACEPOINT_PROBE(kmem, kmalloc)
{
	return count_alloc(args, args->bytes_alloc);
}

TRACEPOINT_PROBE(kmem, kmem_cache_alloc)
{
	return count_alloc(args, args->bytes_alloc);
}
`;

interface Options {
  pid?: number;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'kmem',
  subsystem: 'kernel',
  description: 'Kernel memory allocations (kmalloc, kmem_cache_alloc) by stack and process, with bytes',
  ports: { book: 'chapter 14, Kernel (kmem.bt)' },
  probes: { tracepoint: ['kmem/kmalloc', 'kmem/kmem_cache_alloc'] },
  output: 'stacks',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    pid: opt.pid('trace this process only'),
  },
  positional: '[interval] [count]',
  examples: [
    ['kmem', 'kernel allocations by stack and process name, until Ctrl-C'],
    ['kmem -p 181', 'the allocations PID 181 makes'],
    ['kmem 5 1', 'trace for 5 seconds'],
  ],

  run: allocStacksRun({
    banner: 'Tracing kmem allocation stacks (kmalloc, kmem_cache_alloc). Hit Ctrl-C to end.',
    depth: 5,
    valueField: 'bytes',
    fields: s => ({ count: s.count, bytes: s.total }),
    rank: s => s.total,
    line: (key, s) => `@bytes[${key}]: count ${s.count}, average ${Math.floor(s.total / s.count)}, total ${s.total}`,
  }),
});
