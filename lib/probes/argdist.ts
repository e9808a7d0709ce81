// argdist's generated program (tools/kernel/argdist.ts, BCC's argdist): its -H/-C specifiers parsed as
//   {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
// resolved into targets, and the program: each specifier's map (a log2 histogram or a hash of keys),
// the statements that compute the key, test the filter and count, and for a return probe that reads
// $entry(param) or $latency an entry program saving them per thread (codegen's entry/return pairs).
import { readTracepointFormat } from '../compile/tracepoints.js';
import { includeLines, paramDeclarations, parseSignature, resolveTargets, shareProbes, stringRead, type ArgContext, type Resolver } from './args.js';
import { generateProgram } from './codegen.js';
import { ExpressionError, ExpressionMarks, rewriteExpression, splitTopLevel, type EntryValues, type RewrittenExpression } from './expr.js';
import type { ResolvedProbe } from './resolve.js';
import { parseProbeSpec, ProbeSpecError, type ProbeSpec } from './spec.js';

type Kind = 'hist' | 'freq';

/** One -H/-C specifier as written. */
export interface Specifier {
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

export class SpecifierError extends Error {
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
export interface ArgdistTarget {
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
function collect(t: ArgdistTarget, ctx: ArgContext, marks: ExpressionMarks, stringSize: number, entry?: EntryValues): string {
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

function entryStatements(t: ArgdistTarget, ctx: ArgContext): string {
  const params = ctx.params!;
  const lines = [TID_FILTER, paramDeclarations(ctx), `struct argdist_entry_${t.index} __e = { .ts = bpf_ktime_get_ns() };`];
  for (const name of t.entryParams) lines.push(`__e.${name} = ${params.get(name)!.read};`);
  lines.push('u32 __tid = bpfkit_tid();', `bpf_map_update_elem(&argdist_start_${t.index}, &__tid, &__e, BPF_ANY);`);
  return lines.join('\n');
}

/** The program: a histogram or a hash of keys per specifier, entry maps for $entry/$latency, each target's statements at its probe. */
export function generateArgdist(targets: ArgdistTarget[], specs: Specifier[], opts: ArgdistCodeOptions, marks: ExpressionMarks) {
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
  const returnStatements = (t: ArgdistTarget) => {
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
  const plainReturn = (t: ArgdistTarget) => paired && !t.paired && (t.resolved.type === 'kretprobe' || t.resolved.type === 'uretprobe');
  const plain = (t: ArgdistTarget) => {
    const ctx = contexts.get(t.index)!.entry;
    return block([TID_FILTER, paramDeclarations(ctx), collect(t, ctx, marks, opts.stringSize)].filter(Boolean).join('\n'));
  };
  return generateProgram(shared.map(g => g.probe), {
    prelude: prelude.join('\n'),
    onHit: p => shared[p.id]!.members.filter(t => !plainReturn(t))
      .map(t => (t.paired ? block(entryStatements(t, contexts.get(t.index)!.entry)) : plain(t))).join('\n'),
    onReturn: paired ? p => shared[p.id]!.members.map(t => (t.paired ? returnStatements(t) : plainReturn(t) ? plain(t) : '')).join('\n') : undefined,
    tracepointArgs: true,
    includes: includeLines(opts.include),
  });
}

function parseParams(t: ArgdistTarget) {
  try {
    return parseSignature(t.spec.signature, t.resolved);
  } catch (e) {
    const m = /^"(.*)": (.*)$/.exec((e as Error).message);
    throw new SpecifierError(t.spec.raw, m?.[1] ?? t.spec.signature, m?.[2] ?? (e as Error).message);
  }
}

export function buildArgdistTargets(specs: Specifier[], resolve: Resolver): ArgdistTarget[] {
  const targets: ArgdistTarget[] = [];
  for (const s of specs) {
    const resolved = resolveTargets(resolve, s.spec);
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

/** What the generated program depends on besides the specifiers: argdist's -z and -I. */
export interface ArgdistCodeOptions { stringSize: number; include?: string[] }

/** The specifiers of a command line, in BCC's order (the counts, then the histograms). */
export function parseSpecifiers(counts: string[], histograms: string[]): Specifier[] {
  return [...counts.map(c => ['freq', c] as const), ...histograms.map(h => ['hist', h] as const)].map(([kind, raw], i) => parseSpecifier(raw, kind, i));
}

/**
 * The program argdist generates for these -C and -H specifiers, `resolve` naming their targets (the VM
 * lane precompiles it on the host for kernel functions the host cannot probe).
 */
export function argdistProgram(counts: string[], histograms: string[], resolve: Resolver, opts: Partial<ArgdistCodeOptions> = {}): string {
  const specs = parseSpecifiers(counts, histograms);
  return generateArgdist(buildArgdistTargets(specs, resolve), specs, { stringSize: 80, ...opts } as ArgdistCodeOptions, new ExpressionMarks()).text;
}
