// Function latency for the generic tools (funclatency, funcslower; funcinterval shares the units and
// the -i/-d schedule): each entry of a traced function pushes its start time on a per-thread stack of
// calls in flight, its return pops it and runs the tool's statements with the call's duration. A
// stack, not BCC's one start time per thread, so that nested and recursive calls are each timed
// (BCC times only the innermost, or with -l keeps one stack for all threads).
//
//   const gen = generateProgram(probes, latencyCodegen({
//     prelude: 'BPF_HISTOGRAM(dist);',
//     onLatency: 'map_increment(dist, bpf_log2l(delta_ns / 1000));',   // ctx, probe_id, call, delta_ns
//   }));
//
// Pairing: the return takes the innermost call in flight of the same probe (the ones above it had
// their returns missed: kretprobe instances run out, a uretprobe nesting limit). At an entry the calls
// whose frames are gone are dropped first (a longjmp, an exception, a missed return): a caller still
// running has its entry stack pointer above the new call's. Calls nested deeper than `depth` are
// counted but not timed, so that their returns do not take their callers' entries.
import { opt, type ToolOption } from '../cli/options.js';
import { generateProgram, type CodegenOptions, type GeneratedProgram } from './codegen.js';
import type { ResolvedProbe } from './resolve.js';

export interface LatencyOptions {
  /** C after the includes: the tool's maps and globals. */
  prelude?: string;
  /** Members added to each call in flight (struct bpfkit_call), e.g. `u64 args[6];`. */
  callFields?: string;
  /** Statements at the entry, after the call is pushed: `struct bpfkit_call *call` to fill, ctx, probe_id. */
  onEntry?: string;
  /** Statements at the return: ctx, probe_id, `struct bpfkit_call *call` (its entry) and `u64 delta_ns`. */
  onLatency: string;
  /** Calls in flight per thread that are timed (nested or recursive); deeper ones are not. */
  depth?: number;
  /** Threads with calls in flight at once (an LRU map: the least recent thread makes room). */
  threads?: number;
}

export const DEFAULT_DEPTH = 16;

/** The codegen hooks that time every call of the function probes (kprobes, uprobes) through their returns. */
export function latencyCodegen(o: LatencyOptions): CodegenOptions {
  const depth = o.depth ?? DEFAULT_DEPTH;
  const prelude = `/* calls in flight, per thread: start time and entry stack pointer, innermost last */
#define BPFKIT_CALL_DEPTH ${depth}
struct bpfkit_call {
	u64 start_ns;
	u64 sp;
	u32 probe_id;
${o.callFields ? '\t' + o.callFields.trim().split('\n').map(l => l.trim()).join('\n\t') + '\n' : ''}};
struct bpfkit_calls {
	u32 depth;
	u32 untimed;          /* entries deeper than BPFKIT_CALL_DEPTH, still to return */
	struct bpfkit_call call[BPFKIT_CALL_DEPTH];
};
BPF_LRU_HASH(bpfkit_calls, u32, struct bpfkit_calls, ${o.threads ?? 8192});
static struct bpfkit_calls bpfkit_no_calls;   /* zeroes: a thread's first entry */

/* A new call in flight for this thread, or NULL when it is nested too deep to be timed. */
static __always_inline struct bpfkit_call *bpfkit_push_call(struct pt_regs *regs, u32 probe_id)
{
	u32 tid = bpfkit_tid();
	struct bpfkit_calls *calls = map_lookup_or_try_init(bpfkit_calls, &tid, &bpfkit_no_calls);
	if (!calls)
		return 0;
	u64 sp = PT_REGS_SP(regs);
	u32 depth = calls->depth;
	/* a caller still running entered above this frame: the others have returned unseen */
	for (int i = 0; i < BPFKIT_CALL_DEPTH && depth > 0 && sp; i++) {
		u32 top = depth - 1;
		if (top >= BPFKIT_CALL_DEPTH || calls->call[top].sp > sp)
			break;
		depth = top;
		calls->untimed = 0;
	}
	if (depth >= BPFKIT_CALL_DEPTH) {
		calls->depth = depth;
		calls->untimed++;
		return 0;
	}
	u32 slot = depth;
	barrier_var(slot);      /* the verifier wants the bound checked on the register that indexes */
	if (slot >= BPFKIT_CALL_DEPTH)
		return 0;
	struct bpfkit_call *call = &calls->call[slot];
	call->start_ns = bpf_ktime_get_ns();
	call->sp = sp;
	call->probe_id = probe_id;
	calls->depth = depth + 1;
	return call;
}

/* The call of this probe that returns now (its entry), or NULL when its entry was not seen. */
static __always_inline struct bpfkit_call *bpfkit_pop_call(u32 probe_id)
{
	u32 tid = bpfkit_tid();
	struct bpfkit_calls *calls = bpf_map_lookup_elem(&bpfkit_calls, &tid);
	if (!calls)
		return 0;
	if (calls->untimed) {
		calls->untimed--;
		return 0;
	}
	u32 depth = calls->depth;
	struct bpfkit_call *call = 0;
	/* the innermost call of this probe; any above it lost their returns */
	for (int i = 0; i < BPFKIT_CALL_DEPTH && depth > 0; i++) {
		u32 top = depth - 1;
		if (top >= BPFKIT_CALL_DEPTH)
			break;
		depth = top;
		if (calls->call[top].probe_id == probe_id) {
			call = &calls->call[top];
			break;
		}
	}
	calls->depth = depth;
	return call;
}

${(o.prelude ?? '').trim()}`;

  const onHit = `struct bpfkit_call *call = bpfkit_push_call(ctx, probe_id);
if (!call)
	return 0;
${o.onEntry?.trim() ?? ''}`;

  const onReturn = `struct bpfkit_call *call = bpfkit_pop_call(probe_id);
if (!call)
	return 0;
u64 delta_ns = bpf_ktime_get_ns() - call->start_ns;
{
${o.onLatency.trim()}
}`;

  return { prelude, onHit, onReturn };
}

/** Specs that have no return (tracepoints, USDT) or are returns already: what funclatency/funcslower refuse. */
export function untimeable(p: ResolvedProbe): string | undefined {
  if (p.type === 'tracepoint') return `${p.label} is a tracepoint: only functions have a return to time`;
  if (p.type === 'usdt') return `${p.label} is a USDT probe: only functions have a return to time`;
  if (p.type === 'kretprobe' || p.type === 'uretprobe') return `'${p.spec.text}' is a return probe: name the function itself`;
  if (p.type === 'kprobe' && p.offset) return `'${p.spec.text}' has an offset: only a function's entry pairs with its return`;
  return undefined;
}

// ------------------------------------------------------------------ shared by the three tools

/** BCC's options of funclatency and funcinterval: -p, -i, -d, -T, -u, -m. */
export function timedHistogramOptions(): Record<string, ToolOption> {
  return {
    pid: opt.pid(),
    interval: opt.interval(),
    duration: opt.duration('total duration of trace, in seconds'),
    timestamp: opt.flag('T', 'include timestamp on output'),
    microseconds: opt.flag('u', 'microsecond histogram'),
    milliseconds: opt.flag('m', 'millisecond histogram'),
  };
}

/** BCC's -u/-m: the histogram's unit and what the nanoseconds are divided by. */
export function timeUnit(o: { microseconds?: boolean; milliseconds?: boolean }): { label: 'nsecs' | 'usecs' | 'msecs'; divisor: number } {
  if (o.milliseconds) return { label: 'msecs', divisor: 1_000_000 };
  if (o.microseconds) return { label: 'usecs', divisor: 1000 };
  return { label: 'nsecs', divisor: 1 };
}



/** generateProgram with the latency hooks (what funclatency and funcslower load; -D prints its text). */
export function generateLatencyProgram(probes: ResolvedProbe[], o: LatencyOptions): GeneratedProgram {
  return generateProgram(probes, latencyCodegen(o));
}
