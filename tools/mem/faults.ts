#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// faults: page faults counted by user stack and process: the book's faults.bt (chapter 7), whose
// software:page-faults:1 event this samples in the same way, every fault (a software perf event with
// period 1 on each CPU). Printed as the other stack tools print (BCC's multi-line stacks, -f folded).
import { defineTool, durationSeconds } from '../../lib/cli/index.js';
import { runUserStackCounts, USER_STACK_COUNT_C, USER_STACK_OPTIONS, type UserStackOptions } from '../../lib/stacks/user-counts.js';

const program = `
#include <bpfkit.h>
${USER_STACK_COUNT_C}

SEC("perf_event")
int on_page_fault(struct bpf_perf_event_data *ctx)
{
	return count_user_stack(ctx);
}
`;


const PERF_TYPE_SOFTWARE = 1, PERF_COUNT_SW_PAGE_FAULTS = 2;

defineTool<UserStackOptions>({
  name: 'faults',
  subsystem: 'mem',
  description: 'Count page faults by user stack trace',
  ports: { book: 'chapter 7, Memory (faults.bt)', bpftrace: 'tools/faults.bt (the book\'s)' },
  probes: { perf_event: ['software page-faults, every fault, on every CPU'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-f', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: USER_STACK_OPTIONS,
  positional: '[duration]',
  examples: [
    ['faults', 'count page faults by user stack until Ctrl-C'],
    ['faults 5', 'for 5 seconds only'],
    ['faults -p 185', 'only PID 185'],
    ['faults -f 10 > out.folded', '10 seconds, folded for flame graphs'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachPerfEvent('on_page_fault', { type: PERF_TYPE_SOFTWARE, config: PERF_COUNT_SW_PAGE_FAULTS, period: 1 });
    await runUserStackCounts({
      bpf, what: 'page faults', pid: opts.pid, folded: opts.folded, duration: durationSeconds(opts.duration), valueField: 'faults', out, json, emit, untilExit,
    });
  },
});
