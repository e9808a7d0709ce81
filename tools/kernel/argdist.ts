#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// argdist: histograms (-H) and frequency counts (-C) of function arguments, return values, tracepoint
// fields and USDT arguments (BCC's argdist). A specifier is
//   {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
// e.g. 't:syscalls:sys_enter_read():u64:args->count', 'p:c:malloc(size_t size):size_t:size',
// 'r::vfs_read():int:$retval'. At return probes $entry(param) and $latency read what an entry program
// saved per thread (lib/probes codegen's entry/return pairs). Expressions are C with BCC's names,
// rewritten by lib/probes/expr.ts; each specifier has its own map: a log2 histogram or a hash of keys.
import path from 'node:path';
import { defineTool, opt, positiveSeconds, ToolError, UsageError } from '../../lib/cli/index.js';
import { readTracepointFormat } from '../../lib/compile/tracepoints.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { paramDeclarations, parseSignature, shareProbes, stringRead, type ArgContext } from '../../lib/probes/args.js';
import { attachProbes, generateProgram, unsupportedReason } from '../../lib/probes/codegen.js';
import {
  ExpressionError, ExpressionMarks, rewriteExpression, splitTopLevel, UserExpressionError, type EntryValues, type RewrittenExpression,
} from '../../lib/probes/expr.js';
import { parseProbeSpec, ProbeResolveError, ProbeSpecError, resolveProbe, type ProbeSpec, type ResolvedProbe } from '../../lib/probes/index.js';

type Kind = 'hist' | 'freq';

/** One -H/-C specifier as written. */
interface Specifier {
  raw: string;
  kind: Kind;
  index: number;
  spec: ProbeSpec;
  signature: string;
  label?: string;
  /** No type:expr given: BCC counts calls (entries) or return values. */
  defaultExpr: boolean;
  types: string[];
  exprs: string[];
  filter?: string;
}

class SpecifierError extends Error {
  constructor(raw: string, at: string, reason: string) {
    super(at && at !== raw ? `cannot parse '${raw}' at "${at}": ${reason}` : `cannot parse '${raw}': ${reason}`);
  }
}

const isString = (type: string) => /^char\s*\*$/.test(type.trim());

function parseSpecifier(raw: string, kind: Kind, index: number): Specifier {
  const bad = (at: string, reason: string): never => {
    throw new SpecifierError(raw, at, reason);
  };
  const hash = raw.indexOf('#');
  const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
  const label = hash >= 0 ? raw.slice(hash + 1) : undefined;
  const parts = splitTopLevel(body, ':').map(p => p.text);
  if (parts.length < 3) bad(body, 'at least the probe type, library, and function signature must be specified');
  if (parts.length > 6) bad(parts.slice(6).join(':'), "extraneous ':'-separated parts detected");
  const [letter, library, fn] = parts as [string, string, string];
  if (!['p', 'r', 't', 'u'].includes(letter)) bad(letter, `probe type must be 'p', 'r', 't', or 'u' but got '${letter}'`);
  const sig = /^(\S+?)\((.*)\)$/s.exec(fn.trim());
  if (!sig) bad(fn, `function signature '${fn}' has an invalid format (name(type name, ...))`);
  const [, name, signature] = sig as unknown as [string, string, string];
  let spec: ProbeSpec;
  try {
    spec = parseProbeSpec(`${letter}:${library}:${name}`);
  } catch (e) {
    if (e instanceof ProbeSpecError) bad(e.at || fn, e.reason);
    throw e;
  }
  if (signature.trim() && (letter === 't' || letter === 'u')) bad(fn, "USDT and tracepoint probes can't have a function signature; use arg1, arg2, ... or args->field");
  if (parts.length === 4) bad(parts[3]!, 'a type needs its expression (type:expr)');
  const s: Specifier = { raw, kind, index, spec: spec!, signature, label, defaultExpr: parts.length < 5, types: [], exprs: [] };
  if (!s.defaultExpr) {
    s.types = splitTopLevel(parts[3]!, ',').map(p => p.text.trim());
    s.exprs = splitTopLevel(parts[4]!, ',').map(p => p.text.trim());
    if (s.types.some(t => !t)) bad(parts[3]!, 'no expr types specified');
    if (s.exprs.some(x => !x)) bad(parts[4]!, 'no exprs specified');
    if (s.types.length !== s.exprs.length) bad(`${parts[3]}:${parts[4]}`, 'mismatched # of exprs and types');
    if (kind === 'hist' && s.exprs.length > 1) bad(parts[4]!, 'histograms can only have 1 expr');
    if (kind === 'hist' && isString(s.types[0]!)) bad(parts[3]!, 'a histogram needs a number, not a string');
  } else {
    if (letter !== 'r' && kind === 'hist') bad(body, 'histograms must have expr');
    s.types = [letter === 'r' ? 'int' : 'u64'];
    s.exprs = [letter === 'r' ? '$retval' : '1'];
  }
  if (parts.length === 6) s.filter = parts[5]!.trim();
  return s;
}

const usesEntry = (text: string) => /\$entry\s*\(|\$latency/.test(text);

/** One resolved target of one specifier: its C, built from the rewritten expressions. */
interface Target {
  spec: Specifier;
  /** Its index among all targets (names its entry map). */
  index: number;
  resolved: ResolvedProbe;
  /** A return probe that reads $entry/$latency: probed at the entry too (the resolved type is the entry's). */
  paired: boolean;
  entryParams: string[];
}


function rewrite(s: Specifier, text: string, ctx: ArgContext, entry?: EntryValues): RewrittenExpression {
  try {
    return rewriteExpression(text, ctx, entry ?? { entry: () => undefined });
  } catch (e) {
    if (e instanceof ExpressionError) throw new SpecifierError(s.raw, e.at, e.reason);
    throw e;
  }
}

/** Statements computing the key, testing the filter and counting (the entry's, or the return's with $entry values). */
function collect(t: Target, ctx: ArgContext, marks: ExpressionMarks, stringSize: number, entry?: EntryValues): string {
  const s = t.spec;
  const mark = (e: RewrittenExpression) => marks.mark(e, s.raw);
  const lines: string[] = [];
  if (s.kind === 'hist') {
    const e = rewrite(s, s.exprs[0]!, ctx, entry);
    lines.push(`${s.types[0]} __key = (${s.types[0]})(${e.c}); ${mark(e)}`);
  } else {
    lines.push(`struct argdist_key_${s.index} __key;`, '__builtin_memset(&__key, 0, sizeof(__key));');
    s.exprs.forEach((x, i) => {
      if (x === '$COMM') lines.push(`bpf_get_current_comm(&__key.v${i}, sizeof(__key.v${i}));`);
      else if (isString(s.types[i]!)) {
        const e = rewrite(s, x, ctx, entry);
        lines.push(`const void *__s${i} = (const void *)(long)(${e.c}); ${mark(e)}`, `if (__s${i})`, stringRead(ctx, `__key.v${i}`, `__s${i}`, e.user));
      } else {
        const e = rewrite(s, x, ctx, entry);
        lines.push(`__key.v${i} = (${s.types[i]})(${e.c}); ${mark(e)}`);
      }
    });
  }
  if (s.filter) {
    const f = rewrite(s, s.filter, ctx, entry);
    lines.push(`if (!(${f.c})) ${mark(f)}\n\tbreak;`);
  }
  lines.push(s.kind === 'hist' ? `map_increment(argdist_hist_${s.index}, bpf_log2l(__key));` : `map_increment(argdist_counts_${s.index}, __key);`);
  void stringSize;
  return lines.join('\n');
}

const TID_FILTER = 'if (targ_tid && bpfkit_tid() != targ_tid)\n\tbreak;';

/** One target's statements, in a do-while that filters break out of (targets on one place share a program). */
const block = (lines: string) => `do {\n${lines.split('\n').map(l => '\t' + l).join('\n')}\n} while (0);`;

function entryStatements(t: Target, ctx: ArgContext): string {
  const params = ctx.params!;
  const lines = [TID_FILTER, paramDeclarations(ctx), `struct argdist_entry_${t.index} __e = { .ts = bpf_ktime_get_ns() };`];
  for (const name of t.entryParams) lines.push(`__e.${name} = ${params.get(name)!.read};`);
  lines.push('u32 __tid = bpfkit_tid();', `bpf_map_update_elem(&argdist_start_${t.index}, &__tid, &__e, BPF_ANY);`);
  return lines.join('\n');
}

function generate(targets: Target[], specs: Specifier[], opts: Options, marks: ExpressionMarks) {
  const prelude: string[] = ['/* -t TID */', 'const volatile u32 targ_tid = 0;', ''];
  for (const s of specs) {
    if (s.kind === 'hist') prelude.push(`BPF_HISTOGRAM(argdist_hist_${s.index});`);
    else {
      const fields = s.exprs.map((x, i) => (x === '$COMM' ? `\tchar v${i}[16];` : isString(s.types[i]!) ? `\tchar v${i}[${opts.stringSize}];` : `\t${s.types[i]} v${i};`));
      prelude.push(`struct argdist_key_${s.index} {`, ...fields, '};', `BPF_HASH(argdist_counts_${s.index}, struct argdist_key_${s.index}, u64);`);
    }
  }
  const contexts = new Map<number, { entry: ArgContext; ret: ArgContext }>();
  for (const t of targets) {
    const ctx: ArgContext = { probe: t.resolved };
    if (t.spec.signature.trim()) ctx.params = parseParams(t);
    for (const n of t.entryParams) {
      if (!ctx.params?.has(n)) throw new SpecifierError(t.spec.raw, `$entry(${n})`, `no parameter ${n} in the signature (name it: function(type ${n}))`);
    }
    if (t.resolved.type === 'tracepoint') ctx.tracepointFields = readTracepointFormat(t.resolved.category, t.resolved.event);
    const retType = t.resolved.type === 'uprobe' ? 'uretprobe' : 'kretprobe';
    const ret: ArgContext = { ...ctx, probe: { ...t.resolved, type: retType } as ResolvedProbe };
    contexts.set(t.index, { entry: ctx, ret });
    if (t.paired) {
      const fields = t.entryParams.map(n => `\t${ctx.params!.get(n)!.type} ${n};`);
      prelude.push(`struct argdist_entry_${t.index} {`, '\tu64 ts;', ...fields, '};',
        `BPF_HASH(argdist_start_${t.index}, u32, struct argdist_entry_${t.index});`);
    }
  }
  const paired = targets.some(t => t.paired);
  const shared = shareProbes(targets);
  const returnStatements = (t: Target) => {
    const { entry: ectx, ret } = contexts.get(t.index)!;
    const start = `argdist_start_${t.index}`;
    const entry: EntryValues = {
      entry: name => (t.entryParams.includes(name) ? `((${ectx.params!.get(name)!.type})__entry->${name})` : undefined),
      latency: '(bpf_ktime_get_ns() - __entry->ts)',
    };
    // the entry is forgotten whatever the filter says: the lookup and delete come before the collection
    return block([TID_FILTER, 'u32 __tid = bpfkit_tid();', `struct argdist_entry_${t.index} *__entry = bpf_map_lookup_elem(&${start}, &__tid);`,
      'if (!__entry)\n\tbreak;', `struct argdist_entry_${t.index} __saved = *__entry;`, `bpf_map_delete_elem(&${start}, &__tid);`,
      '__entry = &__saved;', collect(t, ret, marks, opts.stringSize, entry)].join('\n'));
  };
  // with an onReturn, codegen runs return probes there (an entry's pair, or a plain r: target)
  const plainReturn = (t: Target) => paired && !t.paired && (t.resolved.type === 'kretprobe' || t.resolved.type === 'uretprobe');
  const plain = (t: Target) => {
    const ctx = contexts.get(t.index)!.entry;
    return block([TID_FILTER, paramDeclarations(ctx), collect(t, ctx, marks, opts.stringSize)].filter(Boolean).join('\n'));
  };
  return generateProgram(shared.map(g => g.probe), {
    prelude: prelude.join('\n'),
    onHit: p => shared[p.id]!.members.filter(t => !plainReturn(t))
      .map(t => (t.paired ? block(entryStatements(t, contexts.get(t.index)!.entry)) : plain(t))).join('\n'),
    onReturn: paired ? p => shared[p.id]!.members.map(t => (t.paired ? returnStatements(t) : plainReturn(t) ? plain(t) : '')).join('\n') : undefined,
    tracepointArgs: true,
    includes: (opts.include ?? []).map(h => (h.startsWith('.') || h.startsWith('/') ? path.resolve(h) : h)),
  });
}

function parseParams(t: Target) {
  try {
    return parseSignature(t.spec.signature, t.resolved);
  } catch (e) {
    const m = /^"(.*)": (.*)$/.exec((e as Error).message);
    throw new SpecifierError(t.spec.raw, m?.[1] ?? t.spec.signature, m?.[2] ?? (e as Error).message);
  }
}

type Resolver = (spec: ProbeSpec) => ResolvedProbe[];

function buildTargets(specs: Specifier[], resolve: Resolver): Target[] {
  const targets: Target[] = [];
  for (const s of specs) {
    let resolved: ResolvedProbe[];
    try {
      resolved = resolve(s.spec);
    } catch (e) {
      if (e instanceof ProbeResolveError) throw new UsageError(e.message);
      throw e;
    }
    const texts = [...s.exprs, s.filter ?? ''];
    const paired = s.spec.type === 'kretprobe' || s.spec.type === 'uretprobe' ? texts.some(usesEntry) : false;
    const entryParams = [...new Set(texts.flatMap(x => [...x.matchAll(/\$entry\s*\(\s*(\w+)\s*\)/g)].map(m => m[1]!)))];
    for (const r of resolved) {
      let target = r;
      // a return probe reading $entry/$latency is attached as an entry with codegen's return pair
      if (paired && target.type === 'kretprobe') target = { ...target, type: 'kprobe' };
      if (paired && target.type === 'uretprobe') target = { ...target, type: 'uprobe' };
      targets.push({ spec: s, index: targets.length, resolved: target, paired, entryParams });
    }
  }
  return targets;
}

interface Options {
  pid?: number; tid?: number; stringSize: number; interval: number; duration?: number; number?: number;
  verbose: boolean; printBpf: boolean; cumulative: boolean; top?: number; histogram?: string[]; count?: string[];
  include?: string[];
}

/** The specifiers of a command line, in BCC's order (the counts, then the histograms). */
function parseSpecifiers(counts: string[], histograms: string[]): Specifier[] {
  return [...counts.map(c => ['freq', c] as const), ...histograms.map(h => ['hist', h] as const)].map(([kind, raw], i) => parseSpecifier(raw, kind, i));
}

/**
 * The program argdist generates for these -C and -H specifiers, `resolve` naming their targets (the VM
 * lane precompiles it on the host for kernel functions the host cannot probe).
 */
export function argdistProgram(counts: string[], histograms: string[], resolve: Resolver, opts: Partial<Options> = {}): string {
  const specs = parseSpecifiers(counts, histograms);
  return generate(buildTargets(specs, resolve), specs, { stringSize: 80, ...opts } as Options, new ExpressionMarks()).text;
}

function representativeProgram(): string {
  try {
    return argdistProgram(['p:c:malloc(size_t size):size_t:size'], ['t:syscalls:sys_enter_read():u64:args->count'], spec => resolveProbe(spec));
  } catch {
    return '#include <bpfkit.h>\n';
  }
}

defineTool<Options>({
  name: 'argdist',
  subsystem: 'kernel',
  description: 'Trace a function and display a summary of its parameter values',
  ports: { bcc: 'tools/argdist.py' },
  probes: { tracepoint: [''], uprobe: [''] },
  output: ['histogram', 'counts'],
  invocations: [
    { args: ['-i', '1', '-n', '1', '-H', 't:syscalls:sys_enter_read():u64:args->count'], ends: 'itself' },
    { args: ['-i', '1', '-n', '1', '-C', 't:syscalls:sys_enter_openat():int:args->dfd'], ends: 'itself' },
  ],
  records: o => ({ ...(o.histogram?.length ? { sectionBy: HIST_SECTION_BY } : {}), ...(o.count?.length ? { fields: ['probe', 'count', 'event', 'value'] } : {}) }),
  program: representativeProgram(),
  options: {
    pid: opt.pid('id of the process to trace (optional)'),
    tid: opt.tid('id of the thread to trace (optional)'),
    stringSize: opt.int('z', 'maximum string size to read from char* arguments', 'string size', 80),
    interval: { alias: 'i', type: 'string', default: 1, describe: 'output interval, in seconds (default 1 second)', coerce: positiveSeconds('interval') },
    duration: { alias: 'd', type: 'string', describe: 'total duration of trace, in seconds', coerce: positiveSeconds('duration'), meaning: 'duration' },
    number: { ...opt.int('n', 'number of outputs', 'number of outputs'), coerce: positive('number of outputs') },
    verbose: opt.flag('v', 'print resulting BPF program code before executing'),
    printBpf: opt.flag('D', 'print the generated BPF program (same as -v)'),
    cumulative: opt.flag('c', 'do not clear histograms and freq counts at each interval'),
    top: { ...opt.int('T', 'number of top results to show (not applicable to histograms)', 'top'), coerce: positive('top') },
    histogram: { alias: 'H', type: 'string', array: true, describe: 'probe specifier to capture histogram of (see examples below)' },
    count: { alias: 'C', type: 'string', array: true, describe: 'probe specifier to capture count of (see examples below)' },
    include: { alias: 'I', type: 'string', array: true, describe: 'additional header files to include in the BPF program as either full path, or relative to current working directory, or relative to default kernel header search path' },
  },
  examples: [
    ["argdist -H 'p::__kmalloc(u64 size):u64:size'", 'Print a histogram of allocation sizes passed to kmalloc'],
    ["argdist -p 1005 -C 'p:c:malloc(size_t size):size_t:size:size==16'", 'Print a frequency count of how many times process 1005 called malloc with an allocation size of 16 bytes'],
    ["argdist -C 'r:c:gets():char*:(char*)$retval#snooped strings'", 'Snoop on all strings returned by gets()'],
    ["argdist -H 'r::__kmalloc(size_t size):u64:$latency/$entry(size)#ns per byte'", 'Print a histogram of nanoseconds per byte from kmalloc allocations'],
    ["argdist -p 1005 -C 'p:c:write(int fd):int:fd' -T 5", 'Print frequency counts of how many times writes were issued to a particular file descriptor number, in process 1005, but only show the top 5 busiest fds'],
    ["argdist -p 1005 -H 'r:c:read()'", 'Print a histogram of results (sizes) returned by read() in process 1005'],
    ["argdist -C 'r::vfs_read():u32:$PID:$latency > 100000'", 'Print frequency of reads by process where the latency was >0.1ms'],
    ["argdist -C 'r::vfs_read():u32:$COMM:$latency > 100000'", 'Print frequency of reads by process name where the latency was >0.1ms'],
    ["argdist -H 'r::vfs_read(void *file, void *buf, size_t count):size_t:$entry(count):$latency > 1000000'", 'Print a histogram of read sizes that were longer than 1ms'],
    ["argdist -H 'p:c:write(int fd, const void *buf, size_t count):size_t:count:fd==1'", 'Print a histogram of buffer sizes passed to write() across all processes, where the file descriptor was 1 (STDOUT)'],
    ["argdist -C 'p:c:fork()#fork calls'", 'Count fork() calls in libc across all processes'],
    ["argdist -H 't:syscalls:sys_enter_read():u64:args->count'", 'Print a histogram of the sizes read(2) is asked for'],
    ["argdist -H 't:block:block_rq_complete():u32:args->nr_sector'", 'Print histogram of number of sectors in completing block I/O requests'],
    ["argdist -C 't:irq:irq_handler_entry():int:args->irq'", 'Aggregate interrupts by interrupt request (IRQ)'],
    ["argdist -H 'r::vfs_read():int:$retval'", 'Print a histogram of what vfs_read() returns'],
    ["argdist -H 'p:c:sleep(u32 seconds):u32:seconds' -H 'p:c:nanosleep(struct timespec *req):long:req->tv_nsec'", 'Print histograms of sleep() and nanosleep() parameter values'],
    ["argdist -p 2780 -z 120 -C 'p:c:write(int fd, char* buf, size_t len):char*:buf:fd==1'", 'Spy on writes to STDOUT performed by process 2780, up to a string size of 120 characters'],
  ],
  async run({ opts, load, out, json, emit, intervals }) {
    // here, not in validate(): without privileges, that is what a bare `argdist` says first
    if (!opts.histogram?.length && !opts.count?.length) throw new UsageError('at least one specifier is required');
    let specs: Specifier[];
    let targets: Target[];
    const marks = new ExpressionMarks();
    let gen;
    try {
      specs = parseSpecifiers(opts.count ?? [], opts.histogram ?? []);
      targets = buildTargets(specs, spec => resolveProbe(spec, { pid: opts.pid }));
      gen = generate(targets, specs, opts, marks);
    } catch (e) {
      if (e instanceof SpecifierError) throw new UsageError(e.message);
      throw e;
    }
    if (opts.verbose || opts.printBpf) process.stderr.write(gen.text);
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    let bpf;
    try {
      bpf = marks.load(gen.text, () => load({ text: gen.text, rodata: { ...gen.rodata({ pid: opts.pid }), targ_tid: opts.tid ?? 0 } }));
    } catch (e) {
      if (e instanceof UserExpressionError) throw new UsageError(e.message);
      throw e;
    }
    attachProbes(bpf, gen, { pid: opts.pid });
    process.stderr.write(`argdist: tracing ${specs.length} specifier${specs.length === 1 ? '' : 's'} on ${targets.length} target${targets.length === 1 ? '' : 's'}... Hit Ctrl-C to end.\n`);

    const interval = opts.interval;
    let count = opts.number ?? 99999999;
    if (opts.duration) count = Math.min(count, Math.max(1, Math.ceil(opts.duration / interval - 1e-9)));
    await intervals(interval, count, (_last, seconds) => {
      if (!json) out.line(`[${strftimeHMS()}]`);
      const rows: Record<string, unknown>[] = [];
      for (const s of specs) {
        const title = s.label ?? s.raw;
        if (s.kind === 'hist') {
          const hist = bpf!.histogram(`argdist_hist_${s.index}`);
          const data = hist.read(!opts.cumulative);
          const valType = s.label ?? (s.defaultExpr ? 'retval' : s.exprs[0]!);
          if (json) emit.histogram(hist.json(valType, { asSection: { by: HIST_SECTION_BY, key: title } }, data), { interval_s: seconds });
          else {
            const text = hist.format(valType, {}, data);
            if (text) out.write(text.endsWith('\n') ? text : text + '\n');
          }
          continue;
        }
        const map = bpf!.map<Record<string, unknown>, bigint | number>(`argdist_counts_${s.index}`);
        let entries = [...(opts.cumulative ? map.entries() : map.drain())].map(([k, v]) => ({ key: k, count: Number(v) }));
        entries.sort((a, b) => a.count - b.count);
        if (opts.top !== undefined) entries = entries.slice(-opts.top);
        const keyText = (k: Record<string, unknown>) => {
          if (s.defaultExpr) return s.spec.type === 'kretprobe' || s.spec.type === 'uretprobe' ? `retval = ${String(k.v0)}` : 'total calls';
          return s.exprs.map((x, i) => `${x} = ${String(k[`v${i}`])}`).join(', ');
        };
        if (json) {
          for (const e of entries) {
            // one value: it is `value` too (rows are flat); several are in `event` only
            rows.push({ probe: title, count: e.count, event: keyText(e.key), value: s.exprs.length === 1 && !s.defaultExpr ? jsonValue(e.key.v0) : null });
          }
          continue;
        }
        out.line(title);
        out.line(sprintf('\t%-10s %s', 'COUNT', 'EVENT'));
        for (const e of entries) out.line(sprintf('\t%-10s %s', String(e.count), keyText(e.key)));
      }
      if (json && specs.some(s => s.kind === 'freq')) emit.counts(seconds, rows);
    });
  },
});

/** --json: each -H histogram is one section keyed by its probe, so that a consumer (bpfkit export) tells them apart. */
const HIST_SECTION_BY = 'probe';

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v ?? null;
}

function positive(what: string) {
  return (v: unknown) => {
    if (v === undefined) return undefined;
    const s = String(v);
    if (!/^\d+$/.test(s) || Number(s) < 1) throw new UsageError(`invalid ${what}: '${s}' (must be a positive integer)`);
    return Number(s);
  };
}
