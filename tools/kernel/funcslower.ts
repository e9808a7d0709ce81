#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// funcslower: trace kernel or user function calls slower than a threshold, one line per slow call
// (BCC's funcslower). Functions are probe specifications (lib/probes): `vfs_write`, `c:open`,
// `/path/bin:func`. Calls are timed entry to return on a per-thread stack of calls in flight
// (lib/probes/latency.ts), so a slow call nested in another traced call is reported too.
import { defineTool, opt, ToolError, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { representativeProbes, resolveSpecs, type ResolvedProbe } from '../../lib/probes/index.js';
import { attachProbes, unsupportedReason } from '../../lib/probes/codegen.js';
import { generateLatencyProgram, untimeable, type LatencyOptions } from '../../lib/probes/latency.js';
import { foldedLine, StackReader, type Frames } from '../../lib/stacks/index.js';

const MAX_ARGS = 6;

/** The C for these options: -a saves the arguments at the entry, -U/-K take stacks at the return. */
function slowerProgram(o: { args: boolean; userStack: boolean; kernelStack: boolean }): LatencyOptions {
  const stacks = o.userStack || o.kernelStack;
  return {
    callFields: o.args ? `u64 args[${MAX_ARGS}];` : undefined,
    onEntry: o.args ? Array.from({ length: MAX_ARGS }, (_, i) => `call->args[${i}] = PT_REGS_PARM${i + 1}((struct pt_regs *)ctx);`).join('\n') : undefined,
    prelude: `
const volatile u64 min_ns = 1000000;     /* -m / -u */

struct slow_call {
	u64 id;
	u64 tgid_pid;
	u64 start_ns;
	u64 duration_ns;
	u64 retval;
	char comm[16];
	s32 user_stack_id;
	s32 kernel_stack_id;
	u64 args[${MAX_ARGS}];
};
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct slow_call);
${stacks ? 'BPF_STACK_TRACE(stack_traces, 2048);' : ''}`,
    onLatency: `
if (delta_ns < min_ns)
	return 0;
struct slow_call *e = ringbuf_reserve(events, struct slow_call);
if (!e)
	return 0;
e->id = probe_id;
e->tgid_pid = bpf_get_current_pid_tgid();
e->start_ns = call->start_ns;
e->duration_ns = delta_ns;
e->retval = PT_REGS_RC((struct pt_regs *)ctx);
bpf_get_current_comm(&e->comm, sizeof(e->comm));
e->user_stack_id = ${o.userStack ? 'bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK)' : '-1'};
e->kernel_stack_id = ${o.kernelStack ? 'bpf_get_stackid(ctx, &stack_traces, 0)' : '-1'};
${o.args ? `for (int i = 0; i < ${MAX_ARGS}; i++)\n\te->args[i] = call->args[i];` : `for (int i = 0; i < ${MAX_ARGS}; i++)\n\te->args[i] = 0;`}
ringbuf_submit(events, e);`,
  };
}

function representativeProgram(): string {
  return generateLatencyProgram(representativeProbes(['c:open']), slowerProgram({ args: false, userStack: false, kernelStack: false })).text;
}

interface SlowCall {
  id: bigint; tgid_pid: bigint; start_ns: bigint; duration_ns: bigint; retval: bigint; comm: string;
  user_stack_id: number; kernel_stack_id: number; args: bigint[];
}

/** -a: how many entry arguments each event shows (0: no args column or field). */
const argsShown = (o: Options) => o.arguments ?? 0;

interface Options {
  pid?: number; minMs?: number; minUs?: number; arguments?: number; time: boolean; timestamp: boolean; verbose: boolean;
  printBpf: boolean; folded: boolean; userStack: boolean; kernelStack: boolean; functions?: string[];
}

/** BCC's -m/-u: a positive number, fractions allowed. */
const threshold = (what: string) => (v: unknown) => {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  if (!/^\d+(\.\d+)?$/.test(s) || Number(s) <= 0) throw new UsageError(`invalid ${what}: '${s}' (must be a positive number)`);
  return Number(s);
};

defineTool<Options>({
  name: 'funcslower',
  subsystem: 'kernel',
  description: 'Trace slow kernel or user function calls.',
  ports: { bcc: 'tools/funcslower.py' },
  probes: { uprobe: [''], uretprobe: [''] },
  output: 'event',
  invocations: [{ args: ['-u', '1', 'c:write'], ends: 'ctrl-c' }],
  records: o => ({ fields: ['ts_ns', 'pid', 'tid', 'comm', 'func', 'latency_us', 'retval', ...(argsShown(o) ? ['args'] : []), ...(o.userStack ? ['user_stack'] : []), ...(o.kernelStack ? ['kernel_stack'] : [])] }),
  program: representativeProgram(),
  options: {
    pid: opt.pid(),
    minMs: { alias: 'm', type: 'string', describe: 'minimum duration to trace (ms)', coerce: threshold('minimum duration') },
    minUs: { alias: 'u', type: 'string', describe: 'minimum duration to trace (us)', coerce: threshold('minimum duration') },
    arguments: opt.int('a', `print this many entry arguments, as hex (at most ${MAX_ARGS})`, 'number of arguments'),
    time: opt.flag('T', 'show HH:MM:SS timestamp'),
    timestamp: opt.flag('t', 'show timestamp in seconds at us resolution'),
    verbose: opt.flag('v', 'print the BPF program for debugging purposes'),
    printBpf: { alias: 'D', type: 'boolean', default: false, describe: 'print the BPF program before starting (as -v)' },
    folded: opt.flag('f', 'output folded format, one line per stack (for flame graphs)'),
    userStack: opt.flag('U', 'output user stack trace'),
    kernelStack: opt.flag('K', 'output kernel stack trace'),
  },
  positional: '[functions...]',
  examples: [
    ['funcslower vfs_write', 'trace vfs_write calls slower than 1ms'],
    ['funcslower -m 10 vfs_write', 'same, but slower than 10ms'],
    ['funcslower -u 10 c:open', 'trace open calls slower than 10us'],
    ['funcslower -p 135 c:open', 'trace pid 135 only'],
    ['funcslower c:malloc c:free', 'trace both malloc and free slower than 1ms'],
    ['funcslower -a 2 c:open', 'show first two arguments to open'],
    ['funcslower -UK -m 10 c:open', 'Show user and kernel stack frame of open calls slower than 10ms'],
    ['funcslower -f -UK c:open', 'Output in folded format for flame graphs'],
  ],
  validate(o) {
    if (o.minMs !== undefined && o.minUs !== undefined) return 'use only one of -m and -u';
    if (o.arguments !== undefined && o.arguments > MAX_ARGS) return `invalid number of arguments: ${o.arguments} (at most ${MAX_ARGS})`;
    if (o.folded && !o.userStack && !o.kernelStack) return '-f prints stacks: add -U and/or -K';
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    // checked here, after the privilege check, so that an unprivileged user hears about root first
    if (!opts.functions?.length) throw new UsageError('the following arguments are required: function');
    const specs = opts.functions!.map(String);
    const probes = resolveSpecs(specs, { pid: opts.pid, allow: ['kprobe', 'uprobe'] }, m => new UsageError(m), untimeable);
    const nargs = argsShown(opts);
    const gen = generateLatencyProgram(probes, slowerProgram({ args: nargs > 0, userStack: opts.userStack, kernelStack: opts.kernelStack }));
    if (opts.verbose || opts.printBpf) process.stderr.write(gen.text);
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    // BCC: fractions are allowed, rounded down to a nanosecond; 1 ms by default
    const minNs = opts.minMs !== undefined ? Math.trunc(opts.minMs * 1e6) : opts.minUs !== undefined ? Math.trunc(opts.minUs * 1e3) : 1_000_000;
    const bpf = load({ text: gen.text, rodata: { ...gen.rodata({ pid: opts.pid }), min_ns: BigInt(minNs) } });
    attachProbes(bpf, gen, { pid: opts.pid });

    const designator = opts.minUs !== undefined ? 'us' : 'ms';
    const divisor = opts.minUs !== undefined ? 1e3 : 1e6;
    const timeCol = opts.time || opts.timestamp;
    // a function named once prints as written (BCC prints its argument); a pattern's matches by name
    const funcName = (p: ResolvedProbe) => (p.spec.wildcard ? p.label : p.spec.text);
    const stacks = opts.userStack || opts.kernelStack ? new StackReader(bpf, { user: opts.userStack, kernel: opts.kernelStack }) : undefined;
    const value = `${opts.minMs ?? opts.minUs ?? 1}`;
    if (json) process.stderr.write(sprintf('Tracing function calls slower than %g %s... Ctrl+C to quit.\n', Number(value), designator));
    else if (!opts.folded) {
      out.line(sprintf('Tracing function calls slower than %g %s... Ctrl+C to quit.', Number(value), designator));
      out.line((timeCol ? sprintf('%-10s ', 'TIME') : '') + sprintf('%-14s %-6s %7s %16s %s', 'COMM', 'PID', `LAT(${designator})`, 'RVAL',
        'FUNC' + (nargs ? ' ARGS' : '')));
      out.flush();
    }

    let earliest: bigint | undefined;
    bpf.events<SlowCall>('events', 'slow_call', e => {
      const probe = probes[Number(e.id)]!;
      const pid = Number(e.tgid_pid >> 32n), tid = Number(e.tgid_pid & 0xffffffffn);
      const args = e.args.slice(0, nargs);
      const frames = (kind: 'user' | 'kernel', id: number): Frames => stacks?.frames(kind, id, pid);
      const user = opts.userStack ? frames('user', e.user_stack_id) : undefined;
      const kernel = opts.kernelStack ? frames('kernel', e.kernel_stack_id) : undefined;
      if (json) {
        // pid, tid, comm, func (as the text's FUNC), latency_us, retval; args with -a; user_stack / kernel_stack
        // (frames innermost first, null when not stored) with -U / -K; ts_ns is the call's start
        emit.event({
          pid, tid, comm: e.comm, func: funcName(probe), latency_us: Number(e.duration_ns) / 1e3, retval: e.retval,
          ...(nargs ? { args } : {}),
          ...(opts.userStack ? { user_stack: user } : {}), ...(opts.kernelStack ? { kernel_stack: kernel } : {}),
        }, { tsNs: e.start_ns });
        return;
      }
      if (!opts.folded) {
        let time = '';
        if (opts.time) time = sprintf('%-10s ', strftimeHMS());
        else if (opts.timestamp) {
          earliest ??= e.start_ns;
          time = sprintf('%-10.6f ', Number(e.start_ns - earliest) / 1e9);
        }
        out.line(time + sprintf('%-14.14s %-6s %7.2f %16x %s %s', e.comm, String(pid), Number(e.duration_ns) / divisor, e.retval,
          funcName(probe), args.map(a => `0x${a.toString(16)}`).join(' ')));
      }
      if (!stacks) return;
      if (opts.folded) {
        out.line(foldedLine({ pid, tgid: pid, comm: e.comm, user: user ?? undefined, kernel: kernel ?? undefined, value: 1 }, { delimited: true }));
      } else {
        // BCC: kernel frames, then user frames, each indented; a stack not stored prints nothing
        for (const name of [...(kernel ?? []), ...(user ?? [])]) out.line(`    ${name}`);
      }
    });
    await untilExit();
    stacks?.stop();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`funcslower: lost ${lost} events\n`);
  },
});
