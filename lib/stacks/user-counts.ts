// Events counted by user stack and process (the book's faults.bt, brkstack.bt: @[ustack, comm] =
// count()): the BPF side (a key, its maps, one call per event) and the tool's run, from the banner to
// the stacks printed (BCC's multi-line stacks, -f folded, or a stacks record counting `valueField`).
import type { BPF } from '../bpf.js';
import { opt, type ToolOption } from '../cli/options.js';
import type { RecordEmitter } from '../output/index.js';
import { printStacks, StackReader, type StackSample } from './index.js';

/** The C: count_user_stack(ctx) counts the event under (process, user stack, comm); -p is targ_tgid. */
export const USER_STACK_COUNT_C = `
const volatile u32 targ_tgid = 0;

struct user_stack_key {
	u32 tgid;
	int user_stack_id;
	char comm[TASK_COMM_LEN];
};

BPF_HASH(counts, struct user_stack_key, u64, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

static __always_inline int count_user_stack(void *ctx)
{
	struct user_stack_key key = {};
	key.tgid = bpfkit_tgid();
	if (!key.tgid || (targ_tgid && key.tgid != targ_tgid))
		return 0;
	key.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	map_increment(counts, key);
	return 0;
}
`;

/** The options such a tool takes: -p, -f, and a [duration] positional. */
export const USER_STACK_OPTIONS: Record<string, ToolOption> = {
  pid: opt.pid(),
  folded: opt.flag('f', 'output folded format, one line per stack (for flame graphs)'),
};
export interface UserStackOptions { pid?: number; folded: boolean; duration?: string }

interface UserStackKey { tgid: number; user_stack_id: number; comm: string }

export interface UserStackRun {
  bpf: BPF;
  /** What is counted, for the banner: "page faults", "brk() calls". */
  what: string;
  pid?: number;
  folded: boolean;
  duration?: number;
  /** The stacks record's count field: "faults", "calls". */
  valueField: string;
  out: { write(s: string): void; flush(): void };
  json: boolean;
  emit: RecordEmitter;
  untilExit(seconds?: number): Promise<void>;
}

/** From attached to printed: the banner, the wait (duration or Ctrl-C), the stacks. */
export async function runUserStackCounts(r: UserStackRun): Promise<void> {
  const started = Date.now();
  const reader = new StackReader(r.bpf, { user: true, kernel: false });
  reader.track('counts', (k: UserStackKey) => [k.tgid]);
  if (!r.folded) {
    const who = r.pid ? `PID ${r.pid}` : 'all processes';
    (r.json ? process.stderr : r.out).write(`Tracing ${r.what} of ${who} by user stack${r.duration ? ` for ${r.duration} secs.` : '... Hit Ctrl-C to end.'}\n`);
    r.out.flush();
  }
  await r.untilExit(r.duration);
  reader.stop();
  if (!r.folded && !r.json) r.out.write('\n');
  const samples: StackSample[] = r.bpf.map<UserStackKey, bigint>('counts').entries().map(([k, v]) => ({
    pid: k.tgid, tgid: k.tgid, comm: k.comm, userStackId: k.user_stack_id, value: Number(v),
  }));
  printStacks(reader, samples, r.out, {
    json: r.json ? { emit: r.emit, seconds: (Date.now() - started) / 1000, valueField: r.valueField } : undefined,
    folded: r.folded,
  });
}
