// trace's generated program (tools/kernel/trace.ts, BCC's trace): its probes parsed as
//   probe-spec[(signature)] [(filter)] ["format", arg, ...]
// resolved into targets whose filter and values are rewritten C (expr.ts), and the program: a record
// struct per target (a common header, then the values), one ring buffer, and at each probe the
// statements that test the filter and send the record.
import { readTracepointFormat } from '../compile/tracepoints.js';
import { includeLines, paramDeclarations, parseSignature, resolveTargets, shareProbes, stringRead, type ArgContext, type Resolver } from './args.js';
import { generateProgram } from './codegen.js';
import { ExpressionError, ExpressionMarks, rewriteExpression, splitTopLevel, type RewrittenExpression } from './expr.js';
import { CONVERSION_C_TYPE, FormatError, isSigned, parseFormat, type FormatPiece } from './printf.js';
import type { ResolvedProbe } from './resolve.js';
import { parseProbeSpec, ProbeSpecError, type ProbeSpec } from './spec.js';

/** One trace probe as written: where, when (filter) and what to print. */
export interface TraceProbe {
  text: string;
  spec: ProbeSpec;
  signature?: string;
  filter?: { text: string; at: number };
  format?: { text: string; pieces: FormatPiece[] };
  values: { text: string; at: number }[];
}

/** The one line for a probe that cannot be parsed: `cannot parse 'TEXT' at "PART": why`. */
export class TraceSpecError extends Error {
  constructor(text: string, at: string, reason: string) {
    const part = at.startsWith('"') ? at : `"${at}"`;
    super(at && at !== text ? `cannot parse '${text}' at ${part}: ${reason}` : `cannot parse '${text}': ${reason}`);
  }
}

/** BCC's layout: the spec runs to the first blank or '('; then a signature, a (filter), a "format", values. */
export function parseTraceProbe(text: string): TraceProbe {
  const bad = (at: string, reason: string): never => {
    throw new TraceSpecError(text, at, reason);
  };
  const m = /^([^ \t(]+)(\([^(]*?\))?([\s\S]*)$/.exec(text.trim());
  if (!m) bad(text, 'empty probe');
  const [, specText, sig, restText] = m as unknown as [string, string, string | undefined, string];
  let spec: ProbeSpec;
  try {
    spec = parseProbeSpec(specText);
  } catch (e) {
    if (e instanceof ProbeSpecError) bad(e.at || specText, e.reason);
    throw e;
  }
  if (sig && (spec!.type === 'usdt' || spec!.type === 'tracepoint')) {
    bad(sig, "USDT and tracepoint probes can't have a function signature; use arg1, arg2, ... instead");
  }
  const probe: TraceProbe = { text, spec: spec!, signature: sig?.slice(1, -1), values: [] };
  let rest = restText.trimStart();
  const restAt = text.length - rest.length;
  if (rest.startsWith('(')) {
    let depth = 0, end = -1;
    for (let i = 0; i < rest.length && end < 0; i++) {
      const c = rest[i]!;
      if (c === '"' || c === "'") {
        i++;
        while (i < rest.length && rest[i] !== c) i += rest[i] === '\\' ? 2 : 1;
      } else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) end = i;
    }
    if (end < 0) bad(rest, 'unmatched end of predicate');
    probe.filter = { text: rest.slice(0, end + 1), at: restAt };
    rest = rest.slice(end + 1).trimStart();
  }
  if (!rest) return probe;
  if (!rest.startsWith('"')) bad(rest, 'expected a format string in "quotes"');
  let close = -1;
  for (let i = 1; i < rest.length; i++) {
    if (rest[i] === '\\') i++;
    else if (rest[i] === '"') {
      close = i;
      break;
    }
  }
  if (close < 0) bad(rest, 'unterminated string');
  const formatText = rest.slice(1, close);
  let pieces: FormatPiece[];
  try {
    pieces = parseFormat(formatText);
  } catch (e) {
    if (e instanceof FormatError) bad(e.at, e.message);
    throw e;
  }
  probe.format = { text: formatText, pieces: pieces! };
  let after = rest.slice(close + 1).trim();
  if (after) {
    if (!after.startsWith(',')) bad(after, 'expected "," and the values after the format');
    after = after.slice(1);
    const base = text.lastIndexOf(after);
    for (const part of splitTopLevel(after, ',')) {
      if (!part.text.trim()) bad(after.slice(part.at) || after, 'an empty value');
      probe.values.push({ text: part.text.trim(), at: base + part.at });
    }
  }
  const conversions = pieces!.filter(p => p.conversion).length;
  if (conversions !== probe.values.length) {
    bad(rest, `the format has ${conversions} conversion${conversions === 1 ? '' : 's'} but ${probe.values.length} value${probe.values.length === 1 ? ' follows' : 's follow'}`);
  }
  return probe;
}

/** What the generated program depends on besides the probes: trace's -Z, -b, -K, -U and -I. */
export interface TraceCodeOptions { stringSize: number; bufferPages: number; kernelStack: boolean; userStack: boolean; include?: string[] }

/** One target of one trace probe: what the generated C sends for it, and how it is printed. */
export interface TraceTarget {
  probe: TraceProbe;
  /** Its index among all targets: its record's struct and the header's `probe`. */
  index: number;
  resolved: ResolvedProbe;
  ctx: ArgContext;
  values: { expr: RewrittenExpression; conversion: NonNullable<FormatPiece['conversion']> }[];
  filter?: RewrittenExpression;
}

const HEADER = `struct trace_header {
	u64 ts;
	u32 tgid;
	u32 pid;
	u32 uid;
	u32 probe;
	s32 cpu;
	s32 kernel_stack;
	s32 user_stack;
	char comm[16];
};`;

/** The C of one target's hit: filters, then a record with its values (in a do-while that a filter breaks out of). */
function hitStatements(t: TraceTarget, opts: TraceCodeOptions, marks: ExpressionMarks): string {
  const mark = (e: RewrittenExpression) => marks.mark(e, t.probe.text);
  const lines = [
    'u64 __id = bpf_get_current_pid_tgid();',
    'if (targ_tid && (u32)__id != targ_tid)\n\tbreak;',
    'if (targ_self && (__id >> 32) == targ_self)\n\tbreak;',
    'if (targ_uid != (u32)-1 && (u32)bpf_get_current_uid_gid() != targ_uid)\n\tbreak;',
  ];
  const params = paramDeclarations(t.ctx);
  if (params) lines.push(params);
  if (t.filter) lines.push(`if (!(${t.filter.c})) ${mark(t.filter)}\n\tbreak;`);
  const struct = `struct trace_event_${t.index}`;
  lines.push(`${struct} *__ev = ringbuf_reserve(events, ${struct});`, 'if (!__ev)\n\tbreak;',
    '__ev->h.ts = bpf_ktime_get_ns();', '__ev->h.tgid = __id >> 32;', '__ev->h.pid = (u32)__id;',
    '__ev->h.uid = (u32)bpf_get_current_uid_gid();', `__ev->h.probe = ${t.index};`, '__ev->h.cpu = bpf_get_smp_processor_id();',
    'bpf_get_current_comm(&__ev->h.comm, sizeof(__ev->h.comm));');
  t.values.forEach((v, i) => {
    if (v.conversion === 's') {
      lines.push(`const void *__s${i} = (const void *)(long)(${v.expr.c}); ${mark(v.expr)}`,
        `__ev->v${i}[0] = 0;`, `if (__s${i})`, `${stringRead(t.ctx, `__ev->v${i}`, `__s${i}`, v.expr.user)}`);
    } else {
      const type = CONVERSION_C_TYPE[v.conversion]!;
      lines.push(`__ev->v${i} = (${isSigned(v.conversion) ? 's64' : 'u64'})(${type})(${v.expr.c}); ${mark(v.expr)}`);
    }
  });
  lines.push(`__ev->h.kernel_stack = ${opts.kernelStack ? 'bpf_get_stackid(ctx, &stacks, 0)' : '-1'};`,
    `__ev->h.user_stack = ${opts.userStack ? 'bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK)' : '-1'};`,
    'ringbuf_submit(events, __ev);');
  return `do {\n${lines.map(l => '\t' + l.replace(/\n/g, '\n\t')).join('\n')}\n} while (0);`;
}

function prelude(targets: TraceTarget[], opts: TraceCodeOptions): string {
  const c = [
    '/* -L TID, --uid, and trace\'s own process (left out unless -S) */',
    'const volatile u32 targ_tid = 0;', 'const volatile u32 targ_uid = (u32)-1;', 'const volatile u32 targ_self = 0;', '',
    HEADER, '',
  ];
  for (const t of targets) {
    const fields = t.values.map((v, i) => (v.conversion === 's' ? `\tchar v${i}[${opts.stringSize}];` : `\t${isSigned(v.conversion) ? 's64' : 'u64'} v${i};`));
    c.push(`struct trace_event_${t.index} { /* ${t.resolved.label} */`, '\tstruct trace_header h;', ...fields, '};',
      `BPFKIT_EXPORT_TYPE(struct trace_event_${t.index});`);
  }
  // BCC's -b is perf pages per CPU; one ring buffer of that many pages per CPU holds as much
  c.push('', `BPF_RINGBUF_OUTPUT(events, ${ringPages(opts.bufferPages)});`);
  if (opts.kernelStack || opts.userStack) c.push('BPF_STACK_TRACE(stacks, 1024);');
  return c.join('\n');
}

/** Ring buffer pages for BCC's per-CPU -b: four CPUs' worth (the program text must not depend on the machine). */
function ringPages(perCpuPages: number): number {
  let p = 1;
  while (p < perCpuPages * 4) p *= 2;
  return p;
}

/** What BCC prints in the FUNC column: the function, the USDT probe or the tracepoint's event. */
export function displayFunction(p: ResolvedProbe): string {
  switch (p.type) {
    case 'tracepoint': return p.event;
    case 'usdt': return p.spec.provider ? `${p.spec.provider}:${p.name}` : p.name;
    case 'uprobe': case 'uretprobe': return p.symbol;
    default: return p.function;
  }
}

export function buildTraceTargets(probes: TraceProbe[], resolve: Resolver): TraceTarget[] {
  const targets: TraceTarget[] = [];
  for (const probe of probes) {
    for (const r of resolveTargets(resolve, probe.spec)) {
      const target = r;
      const ctx: ArgContext = { probe: target };
      const inProbe = (what: { text: string; at: number }, run: () => RewrittenExpression): RewrittenExpression => {
        try {
          return run();
        } catch (e) {
          if (e instanceof ExpressionError) throw new TraceSpecError(probe.text, e.at, e.reason);
          throw e;
        }
      };
      try {
        if (probe.signature !== undefined) ctx.params = parseSignature(probe.signature, target);
      } catch (e) {
        throw new TraceSpecError(probe.text, /^"(.*)":/.exec((e as Error).message)?.[1] ?? probe.signature!, (e as Error).message.replace(/^"[^"]*": /, ''));
      }
      if (target.type === 'tracepoint') ctx.tracepointFields = readTracepointFormat(target.category, target.event);
      const conversions = probe.format?.pieces.filter(p => p.conversion).map(p => p.conversion!) ?? [];
      targets.push({
        probe, index: targets.length, resolved: target, ctx,
        filter: probe.filter && inProbe(probe.filter, () => rewriteExpression(probe.filter!.text, ctx)),
        values: probe.values.map((v, i) => ({ expr: inProbe(v, () => rewriteExpression(v.text, ctx)), conversion: conversions[i]! })),
      });
    }
  }
  return targets;
}

/**
 * The program trace generates for these probes, with `resolve` naming their targets (the VM lane
 * precompiles it on the host for kernel functions the host cannot probe).
 */
export function traceProgram(probeTexts: string[], resolve: Resolver, opts: Partial<TraceCodeOptions> = {}): string {
  const o = { stringSize: 80, bufferPages: 64, kernelStack: false, userStack: false, ...opts } as TraceCodeOptions;
  return generateTrace(buildTraceTargets(probeTexts.map(parseTraceProbe), resolve), o, new ExpressionMarks()).text;
}

/** The program for these targets: their records' structs, one ring buffer, each target's statements at its probe. */
export function generateTrace(targets: TraceTarget[], opts: TraceCodeOptions, marks: ExpressionMarks) {
  const shared = shareProbes(targets);
  return generateProgram(shared.map(g => g.probe), {
    prelude: prelude(targets, opts),
    onHit: p => shared[p.id]!.members.map(t => hitStatements(t, opts, marks)).join('\n'),
    tracepointArgs: true,
    includes: includeLines(opts.include),
  });
}
