// BCC's probe specifications, parsed once for every generic tool (funccount, funclatency, funcslower,
// funcinterval, trace, argdist, stackcount). The forms and their meanings are BCC's:
//   func, p::func          kernel function entry      r::func              its return
//   t:category:event       tracepoint                 lib:func, p:lib:func  user function (uprobe)
//   c:func                 libc's func ("c" is a library name like any other)
//   r:lib:func             user function return       u:lib:probe           USDT probe (u:lib:provider:probe too)
// A library is a name the dynamic linker would find ("c", "libssl.so.3", "pthread"), an executable
// in PATH ("bash") or a path. Names may carry BCC's wildcards (`vfs_*`, `t:syscalls:sys_enter_*`,
// `c:str*`), or be regular expressions with `regex: true` (funccount/stackcount -r), matched as
// Python's re.match does: anchored at the start only.
import { globToRegExp } from '../attach/kprobes.js';

export type ProbeType = 'kprobe' | 'kretprobe' | 'tracepoint' | 'uprobe' | 'uretprobe' | 'usdt';

export interface ProbeSpec {
  /** The specification as the user wrote it. */
  text: string;
  type: ProbeType;
  /** uprobe/uretprobe/usdt: the library, executable or path as written ('' for usdt with -p only). */
  library: string;
  /** tracepoint: the category (may be a pattern). */
  category?: string;
  /** usdt: the provider when written (u:lib:provider:probe), else undefined: any provider. */
  provider?: string;
  /** The function, event or USDT probe name (may be a pattern). */
  name: string;
  /** kprobe: an offset into the function (p::func+0x10). */
  offset?: number;
  /** Whether `name` (and category/provider) are regular expressions rather than globs. */
  regex: boolean;
  /** Whether any part is a pattern (glob with * ? [ or a regex): it may match many targets. */
  wildcard: boolean;
}

export interface ParseOptions {
  /** Names are regular expressions (-r). */
  regex?: boolean;
  /** The probe types the tool takes; others are refused with a clear line. */
  allow?: ProbeType[];
}

/** A spec that cannot be parsed: the message quotes the spec and the part that is wrong. */
export class ProbeSpecError extends Error {
  constructor(readonly spec: string, readonly at: string, readonly reason: string) {
    super(at === spec || !at ? `cannot parse '${spec}': ${reason}` : `cannot parse '${spec}' at "${at}": ${reason}`);
    this.name = 'ProbeSpecError';
  }
}

const TYPE_LETTERS: Record<string, ProbeType> = { p: 'kprobe', r: 'kretprobe', t: 'tracepoint', u: 'usdt' };
/** Symbol-ish names: C identifiers, plus dots (compiler clones, versioned names) and wildcard characters. */
const NAME_GLOB = /^[\w.$@*?[\]!-]+$/;
const hasGlob = (s: string) => /[*?[]/.test(s);

/** Parses one probe specification; throws ProbeSpecError quoting the bad part. */
export function parseProbeSpec(text: string, opts: ParseOptions = {}): ProbeSpec {
  const regex = !!opts.regex;
  const bad = (at: string, reason: string): never => {
    throw new ProbeSpecError(text, at, reason);
  };
  const spec = text.trim();
  if (!spec) bad('', 'empty probe specification');
  // A path may hold ':' only in odd cases BCC does not handle either; split on every ':'.
  let parts = spec.split(':');
  if (parts.length === 1) parts = ['p', '', parts[0]!];
  else if (parts.length === 2) {
    const [first, second] = parts as [string, string];
    if (first === 't' || first === 'u') bad(spec, first === 't' ? 'a tracepoint is t:category:event' : 'a USDT probe is u:library:probe');
    if (first === 'p' || first === 'r') bad(spec, `a kernel function is ${first}::${second}, a user function ${first}:library:${second}`);
    parts = ['p', first, second];
  }
  const letter = parts[0]!;
  if (letter !== '' && !(letter in TYPE_LETTERS)) bad(letter, `probe type must be p, r, t or u, not '${letter}'`);
  let type = TYPE_LETTERS[letter || 'p']!;
  const out: ProbeSpec = { text, type, library: '', name: '', regex, wildcard: false };

  const checkName = (name: string, what: string) => {
    if (!name) bad(spec, `no ${what}`);
    if (regex) {
      try {
        new RegExp(name);
      } catch (e) {
        bad(name, `invalid regular expression (${(e as Error).message.replace(/^Invalid regular expression: (\/.*\/\w*: )?/, '')})`);
      }
      if (/[^\w]/.test(name)) out.wildcard = true;
      return;
    }
    if (!NAME_GLOB.test(name)) {
      const c = [...name].find(ch => !/[\w.$@*?[\]!-]/.test(ch))!;
      bad(name.slice(name.indexOf(c)), `unexpected '${c}' in the ${what}`);
    }
    if (hasGlob(name)) out.wildcard = true;
  };

  if (type === 'tracepoint') {
    if (parts.length !== 3) bad(parts.slice(3).join(':') || spec, 'a tracepoint is t:category:event');
    const [, category, event] = parts as [string, string, string];
    checkName(category, 'tracepoint category');
    checkName(event, 'tracepoint event');
    out.category = category;
    out.name = event;
    return allowed(out, opts, bad);
  }
  if (type === 'usdt') {
    if (parts.length > 4) bad(parts.slice(4).join(':'), 'a USDT probe is u:library:probe or u:library:provider:probe');
    out.library = parts[1]!;
    if (parts.length === 4) {
      checkName(parts[2]!, 'USDT provider');
      out.provider = parts[2];
    }
    checkName(parts[parts.length - 1]!, 'USDT probe name');
    out.name = parts[parts.length - 1]!;
    return allowed(out, opts, bad);
  }
  // p / r: kernel when the library is empty, else user space
  if (parts.length > 3) bad(parts.slice(3).join(':'), `too many ':'-separated parts (${type === 'kprobe' ? 'p' : 'r'}:library:function)`);
  const [, library, fn] = parts as [string, string, string];
  out.library = library;
  let name = fn;
  const plus = /^(.+)\+(0x[0-9a-fA-F]+|\d+)$/.exec(name);
  if (plus) {
    if (library || type !== 'kprobe') bad(name.slice(plus[1]!.length), 'an offset is only for kernel function entries (p::func+0x10)');
    name = plus[1]!;
    out.offset = Number(plus[2]);
  }
  checkName(name, 'function name');
  out.name = name;
  if (library) type = type === 'kprobe' ? 'uprobe' : 'uretprobe';
  out.type = type;
  if (out.offset !== undefined && out.wildcard) bad(fn, 'an offset needs one function, not a pattern');
  return allowed(out, opts, bad);
}

function allowed(spec: ProbeSpec, opts: ParseOptions, bad: (at: string, reason: string) => never): ProbeSpec {
  if (opts.allow && !opts.allow.includes(spec.type)) {
    bad(spec.text.trim(), `${describeType(spec.type)} probes are not supported here (only ${opts.allow.map(describeType).join(', ')})`);
  }
  return spec;
}

export function describeType(type: ProbeType): string {
  switch (type) {
    case 'kprobe': return 'kernel function';
    case 'kretprobe': return 'kernel function return';
    case 'tracepoint': return 'tracepoint';
    case 'uprobe': return 'user function';
    case 'uretprobe': return 'user function return';
    case 'usdt': return 'USDT';
  }
}

/**
 * A matcher for one name part: a glob anchored at both ends (BCC turns `*` into `.*` inside ^...$),
 * or a regex anchored at the start only (BCC's re.match).
 */
export function nameMatcher(pattern: string, regex: boolean): (name: string) => boolean {
  if (!regex) {
    if (!hasGlob(pattern)) return name => name === pattern;
    const re = globToRegExp(pattern);
    return name => re.test(name);
  }
  const re = new RegExp(pattern, 'y');
  return name => {
    re.lastIndex = 0;
    return re.test(name);
  };
}

/** The spec written back in its canonical form (p::vfs_read, t:sched:sched_switch, p:c:malloc, u:lib:probe). */
export function formatProbeSpec(spec: ProbeSpec): string {
  switch (spec.type) {
    case 'kprobe': return `p::${spec.name}${spec.offset ? `+0x${spec.offset.toString(16)}` : ''}`;
    case 'kretprobe': return `r::${spec.name}`;
    case 'tracepoint': return `t:${spec.category}:${spec.name}`;
    case 'uprobe': return `p:${spec.library}:${spec.name}`;
    case 'uretprobe': return `r:${spec.library}:${spec.name}`;
    case 'usdt': return `u:${spec.library}:${spec.provider ? `${spec.provider}:` : ''}${spec.name}`;
  }
}

/**
 * Whether a specification names user-space functions (a uprobe or uretprobe): what a tool's record
 * shape may follow from (funclatency). False where it does not parse: the tool's run says why.
 */
export function namesUserFunctions(text: string, opts: ParseOptions = {}): boolean {
  try {
    const { type } = parseProbeSpec(text, opts);
    return type === 'uprobe' || type === 'uretprobe';
  } catch (e) {
    if (e instanceof ProbeSpecError) return false;
    throw e;
  }
}
