#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// faults: page faults counted by user stack and process: the book's faults.bt (chapter 7), whose
// software:page-faults:1 event this samples in the same way, every fault (a software perf event with
// period 1 on each CPU). Printed as the other stack tools print (BCC's multi-line stacks, -f folded).
import { defineTool, durationSeconds, opt } from '../../lib/cli/index.js';
import { printStacks, StackReader, type StackSample } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;

struct key_t {
	u32 tgid;
	int user_stack_id;
	char comm[TASK_COMM_LEN];
};

BPF_HASH(counts, struct key_t, u64, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

SEC("perf_event")
int on_page_fault(struct bpf_perf_event_data *ctx)
{
	struct key_t key = {};
	key.tgid = bpfkit_tgid();
	if (!key.tgid || (targ_tgid && key.tgid != targ_tgid))
		return 0;
	key.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	map_increment(counts, key);
	return 0;
}
`;

interface Options { pid?: number; folded: boolean; duration?: string }
interface Key { tgid: number; user_stack_id: number; comm: string }

const PERF_TYPE_SOFTWARE = 1, PERF_COUNT_SW_PAGE_FAULTS = 2;

defineTool<Options>({
  name: 'faults',
  subsystem: 'mem',
  description: 'Count page faults by user stack trace',
  ports: { book: 'chapter 7, Memory (faults.bt)', bpftrace: 'tools/faults.bt (the book\'s)' },
  probes: { perf_event: ['software page-faults, every fault, on every CPU'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-f', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    pid: opt.pid(),
    folded: opt.flag('f', 'output folded format, one line per stack (for flame graphs)'),
  },
  positional: '[duration]',
  examples: [
    ['faults', 'count page faults by user stack until Ctrl-C'],
    ['faults 5', 'for 5 seconds only'],
    ['faults -p 185', 'only PID 185'],
    ['faults -f 10 > out.folded', '10 seconds, folded for flame graphs'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachPerfEvent('on_page_fault', { type: PERF_TYPE_SOFTWARE, config: PERF_COUNT_SW_PAGE_FAULTS, period: 1 });
    const started = Date.now();
    const reader = new StackReader(bpf, { user: true, kernel: false });
    reader.track('counts', (k: Key) => [k.tgid]);
    if (!opts.folded) {
      const who = opts.pid ? `PID ${opts.pid}` : 'all processes';
      (json ? process.stderr : out).write(`Tracing page faults of ${who} by user stack${duration ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.'}\n`);
      out.flush();
    }
    await untilExit(duration);
    reader.stop();
    if (!opts.folded && !json) out.write('\n');
    const samples: StackSample[] = bpf.map<Key, bigint>('counts').entries().map(([k, v]) => ({
      pid: k.tgid, tgid: k.tgid, comm: k.comm, userStackId: k.user_stack_id, value: Number(v),
    }));
    printStacks(reader, samples, out, {
      json: json ? { emit, seconds: (Date.now() - started) / 1000, valueField: 'faults' } : undefined,
      folded: opts.folded,
    });
  },
});
