// BCC's expressions in trace and argdist specs: C as the user writes it, with BCC's names in it —
// arg1..argN, retval, $uid $gid $pid $tgid $cpu $task, args->field (tracepoints), the parameters of a
// signature (`p:c:open(char *path)`), and argdist's $entry(name), $latency. Everything else passes
// through to clang unchanged, as BCC passes it. A small tokenizer finds those names (never inside a
// string or a character constant), checks that brackets balance and strings end, and rewrites them
// into C through args.ts; `offsets` maps every character of the C back to the user's text, so a clang
// error in the generated line is reported at the user's own characters.
import { CompileError } from '../compile/errors.js';
import { argumentRead, dataLocField, memberChainRead, readsUserMemory, returnValueRead, taskValue, type ArgContext } from './args.js';

/** An expression BCC would refuse (or clang could never make sense of): quotes the bad part. */
export class ExpressionError extends Error {
  constructor(readonly expression: string, readonly at: string, readonly reason: string) {
    super(`"${at || expression}": ${reason}`);
    this.name = 'ExpressionError';
  }
}

export interface Token {
  kind: 'ident' | 'number' | 'string' | 'char' | 'op' | 'space';
  text: string;
  /** Offset in the expression text. */
  at: number;
}

const OPERATORS = ['->', '<<=', '>>=', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^='];

/** C tokens of `text`; throws ExpressionError at an unterminated string or a character C has no use for. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const bad = (at: number, reason: string): never => {
    throw new ExpressionError(text, text.slice(at), reason);
  };
  while (i < text.length) {
    const c = text[i]!;
    const start = i;
    if (/\s/.test(c)) {
      while (i < text.length && /\s/.test(text[i]!)) i++;
      out.push({ kind: 'space', text: text.slice(start, i), at: start });
    } else if (/[A-Za-z_$]/.test(c)) {
      i++;
      while (i < text.length && /[\w]/.test(text[i]!)) i++;
      // BCC's argN@user: a pointer argument that is a user-space address
      if (text.startsWith('@user', i) && /^arg\d+$/.test(text.slice(start, i))) i += 5;
      out.push({ kind: 'ident', text: text.slice(start, i), at: start });
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(text[i + 1] ?? ''))) {
      while (i < text.length && /[\w.]/.test(text[i]!)) i++;
      out.push({ kind: 'number', text: text.slice(start, i), at: start });
    } else if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) bad(start, c === '"' ? 'unterminated string' : 'unterminated character constant');
      i++;
      out.push({ kind: c === '"' ? 'string' : 'char', text: text.slice(start, i), at: start });
    } else if ('()[]{},;?:~!%^&*-+=|<>/.'.includes(c)) {
      const op = OPERATORS.find(o => text.startsWith(o, i)) ?? c;
      i += op.length;
      out.push({ kind: 'op', text: op, at: start });
    } else {
      bad(start, `unexpected '${c}'`);
    }
  }
  // brackets balance, and close what they opened
  const open: Token[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const t of out) {
    if (t.kind !== 'op') continue;
    if (t.text === '(' || t.text === '[' || t.text === '{') open.push(t);
    else if (t.text in pairs) {
      const o = open.pop();
      if (!o || o.text !== pairs[t.text]) bad(t.at, `unmatched '${t.text}'`);
    }
  }
  if (open.length) bad(open[open.length - 1]!.at, `unmatched '${open[open.length - 1]!.text}'`);
  return out;
}

/** C text with, for each of its characters, the offset in the user's text it came from. */
export interface RewrittenExpression {
  /** The user's text. */
  source: string;
  c: string;
  offsets: number[];
  /** Whether it reads through pointers a user process owns (strings are then read from user memory first). */
  user: boolean;
}

/** argdist's $entry(name) values, saved at the entry of a return probe: the C to read each one back. */
export interface EntryValues {
  entry(name: string): string | undefined;
  latency?: string;
}

/** Rewrites one BCC expression into C for the probe of `ctx`. */
export function rewriteExpression(text: string, ctx: ArgContext, entry?: EntryValues): RewrittenExpression {
  const tokens = tokenize(text);
  const bad = (t: Token, reason: string): never => {
    throw new ExpressionError(text, text.slice(t.at), reason);
  };
  let c = '';
  const offsets: number[] = [];
  let user = false;
  const emit = (s: string, at: number) => {
    c += s;
    for (let k = 0; k < s.length; k++) offsets.push(at);
  };
  const emitSame = (t: Token) => {
    c += t.text;
    for (let k = 0; k < t.text.length; k++) offsets.push(t.at + k);
  };
  const next = (i: number) => {
    let j = i + 1;
    while (tokens[j]?.kind === 'space') j++;
    return j;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const prev = tokens.slice(0, i).filter(x => x.kind !== 'space').pop();
    // a member name after . or -> is the struct's, never one of BCC's names
    if (t.kind !== 'ident' || (prev && prev.kind === 'op' && (prev.text === '.' || prev.text === '->'))) {
      emitSame(t);
      continue;
    }
    const arg = /^arg(\d+)(@user)?$/.exec(t.text);
    if (arg) {
      const read = argumentRead(ctx, Number(arg[1]));
      if (typeof read !== 'string') bad(t, read.error);
      if (arg[2] || readsUserMemory(ctx)) user = true;
      emit(read as string, t.at);
      continue;
    }
    if (t.text === 'retval' || t.text === '$retval') { // trace's name, argdist's
      const read = returnValueRead(ctx);
      if (typeof read !== 'string') bad(t, read.error);
      emit(read as string, t.at);
      continue;
    }
    if (t.text === '$entry' && entry) {
      const open = next(i), name = next(open), close = next(name);
      if (tokens[open]?.text !== '(' || tokens[name]?.kind !== 'ident' || tokens[close]?.text !== ')') bad(t, '$entry takes a parameter name: $entry(name)');
      const read = entry.entry(tokens[name]!.text);
      if (read === undefined) bad(tokens[name]!, `$entry(${tokens[name]!.text}): no parameter ${tokens[name]!.text} in the signature`);
      emit(read!, t.at);
      i = close;
      continue;
    }
    if (t.text === '$latency' && entry) {
      if (!entry.latency) bad(t, '$latency is only for return probes (r:)');
      emit(entry.latency!, t.at);
      continue;
    }
    if (t.text === 'args') {
      if (ctx.probe.type !== 'tracepoint') bad(t, 'args-> is for tracepoints (t:category:event); functions have arg1, arg2, ...');
      const arrow = next(i), field = next(arrow);
      if (tokens[arrow]?.text !== '->' || tokens[field]?.kind !== 'ident') bad(t, 'a tracepoint field is args->name');
      const name = tokens[field]!.text;
      const fields = ctx.tracepointFields;
      if (fields && !fields.some(f => f.name === name)) {
        const names = fields.filter(f => !f.name.startsWith('common_')).map(f => f.name);
        bad(tokens[field]!, `${ctx.probe.label} has no field '${name}' (it has ${names.join(', ')})`);
      }
      if (ctx.probe.type === 'tracepoint' && ctx.probe.category === 'syscalls') user = true; // syscall arguments point into the caller
      const dataLoc = dataLocField(fields, name);
      if (dataLoc) {
        emit(dataLoc, t.at);
        i = field;
      } else emitSame(t);
      continue;
    }
    const param = ctx.params?.get(t.text);
    const task = t.text === '$task';
    if (param && (ctx.probe.type === 'kretprobe' || ctx.probe.type === 'uretprobe')) {
      bad(t, `${t.text}: arguments are gone at a function's return${entry ? `: use $entry(${t.text})` : ''}`);
    }
    if (param || task) {
      // p->a->b: the chain is read through probe reads (BPF_CORE_READ), as BCC rewrites dereferences
      const chain: string[] = [];
      let j = i;
      for (;;) {
        const arrow = next(j), member = next(arrow);
        if (tokens[arrow]?.text !== '->' && !(chain.length && tokens[arrow]?.text === '.')) break;
        if (tokens[member]?.kind !== 'ident') break;
        if (tokens[arrow]!.text === '.') chain[chain.length - 1] += '.' + tokens[member]!.text;
        else chain.push(tokens[member]!.text);
        j = member;
      }
      const base = task ? taskValue() : param!.read;
      if (param?.user || readsUserMemory(ctx)) user = true;
      emit(chain.length ? memberChainRead(ctx, base, chain) : base, t.at);
      i = j;
      continue;
    }
    if (t.text.startsWith('$')) {
      const value = dollarValue(t.text);
      if (value === undefined) bad(t, `unknown name ${t.text} (BCC's are $uid, $gid, $pid, $tgid, $cpu, $task${entry ? ', $entry(name), $latency' : ''})`);
      emit(value!, t.at);
      continue;
    }
    emitSame(t);
  }
  return { source: text, c, offsets, user };
}

function dollarValue(name: string): string | undefined {
  switch (name) {
    case '$uid': return '((u32)bpf_get_current_uid_gid())';
    case '$gid': return '((u32)(bpf_get_current_uid_gid() >> 32))';
    case '$pid': return '((u32)bpf_get_current_pid_tgid())';
    case '$tgid': case '$PID': return '((u32)(bpf_get_current_pid_tgid() >> 32))'; // $PID: argdist's
    case '$cpu': return 'bpf_get_smp_processor_id()';
    default: return undefined;
  }
}

/** Where a user expression sits in a generated program: its line, the column its C starts at. */
interface ExpressionSite {
  line: number;
  column: number;
  expression: RewrittenExpression;
  /** The whole spec the expression came from, for the message. */
  spec: string;
}

/** A clang error in a user's expression, as one line in the user's words. */
export class UserExpressionError extends Error {}

/**
 * The user expressions a generated program holds, so that a clang diagnostic "name:LINE:COL: error: ..."
 * is reported at the user's own characters. Each expression's C line ends with the comment mark() returns.
 */
export class ExpressionMarks {
  private readonly marks: { expression: RewrittenExpression; spec: string }[] = [];

  /** The comment to end the line holding `expression`'s C with. */
  mark(expression: RewrittenExpression, spec: string): string {
    this.marks.push({ expression, spec });
    return `/* expr:${this.marks.length - 1} */`;
  }

  private sites(programText: string): ExpressionSite[] {
    const sites: ExpressionSite[] = [];
    programText.split('\n').forEach((line, index) => {
      const m = /\/\* expr:(\d+) \*\/\s*$/.exec(line);
      const mark = m && this.marks[Number(m[1])];
      if (!mark) return;
      const column = line.indexOf(mark.expression.c);
      if (column >= 0) sites.push({ line: index + 1, column: column + 1, ...mark });
    });
    return sites;
  }

  /**
   * One line for clang's first error in a user's expression: "in 'SPEC' at "part": message", or
   * undefined when the error is in no user expression (then it is the generator's, reported as is).
   */
  explain(diagnostics: string, programText: string): string | undefined {
    const sites = this.sites(programText);
    for (const line of diagnostics.split('\n')) {
      const m = /^[^:\s]*:(\d+):(\d+): (?:fatal )?error: (.*)$/.exec(line);
      if (!m) continue;
      const lineNo = Number(m[1]), col = Number(m[2]);
      const site = sites.find(s => s.line === lineNo && col >= s.column && col <= s.column + s.expression.c.length);
      if (!site) continue;
      const e = site.expression;
      const at = e.offsets[Math.min(col - site.column, e.offsets.length - 1)] ?? 0;
      const part = e.source.slice(at).trim() || e.source.trim();
      return `in '${site.spec}' at "${part}": ${m[3]!.replace(/\s*\[-W[\w-]+\]$/, '')}`;
    }
    return undefined;
  }

  /** Runs `load` (compile + load of `programText`); a clang error in a user's expression becomes UserExpressionError. */
  load<T>(programText: string, load: () => T): T {
    try {
      return load();
    } catch (e) {
      const line = e instanceof CompileError ? this.explain(e.diagnostics, programText) : undefined;
      if (line) throw new UserExpressionError(line);
      throw e;
    }
  }
}

/**
 * `text` cut at each `separator` that is outside brackets, strings and character constants (argdist's
 * "type:expr:filter" parts, trace's and argdist's comma lists), each part with its offset in `text`.
 */
export function splitTopLevel(text: string, separator: string): { text: string; at: number }[] {
  const parts: { text: string; at: number }[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === separator && depth === 0) {
      parts.push({ text: text.slice(start, i), at: start });
      start = i + 1;
    }
  }
  parts.push({ text: text.slice(start), at: start });
  return parts;
}
