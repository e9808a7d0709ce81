#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// brkstack: brk() calls (the heap growing or shrinking) counted by user stack and process: the book's
// brkstack.bt (chapter 7), at the same syscalls:sys_enter_brk tracepoint. Printed as the other stack
// tools print (BCC's multi-line stacks, -f folded).
import { defineTool, durationSeconds } from '../../lib/cli/index.js';
import { runUserStackCounts, USER_STACK_COUNT_C, USER_STACK_OPTIONS, type UserStackOptions } from '../../lib/stacks/user-counts.js';

const program = `
#include <bpfkit.h>
${USER_STACK_COUNT_C}

TRACEPOINT_PROBE(syscalls, sys_enter_brk)
{
	return count_user_stack(ctx);
}
`;


defineTool<UserStackOptions>({
  name: 'brkstack',
  subsystem: 'mem',
  description: 'Count brk() syscalls (heap growth) by user stack trace',
  ports: { book: 'chapter 7, Memory (brkstack.bt)', bpftrace: 'tools/brkstack.bt (the book\'s)' },
  probes: { tracepoint: ['syscalls/sys_enter_brk'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-f', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: USER_STACK_OPTIONS,
  positional: '[duration]',
  examples: [
    ['brkstack', 'count brk() calls by user stack until Ctrl-C'],
    ['brkstack 5', 'for 5 seconds only'],
    ['brkstack -p 185', 'only PID 185'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    await runUserStackCounts({
      bpf, what: 'brk() calls', pid: opts.pid, folded: opts.folded, duration: durationSeconds(opts.duration), valueField: 'calls', out, json, emit, untilExit,
    });
  },
});
