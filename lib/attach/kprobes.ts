// Kernel function names as users write them -> names kprobes can attach to on the running kernel.
//  - exact names, checked against tracefs' available_filter_functions (the functions ftrace, hence
//    kprobes-on-ftrace and fentry, can hook), or /proc/kallsyms text symbols where tracefs is unreadable;
//  - syscall names, as BCC's get_syscall_fnname/fix_syscall_fnname: "sys_openat", "openat" or another
//    architecture's wrapper -> this kernel's wrapper (__x64_sys_openat, __arm64_sys_openat, ...);
//  - compiler clones (.isra.0, .constprop.0, .part.0, .llvm.N; never .cold) when the plain name is gone;
//  - funccount-style globs (`vfs_*`, `tcp_*send*`) minus BCC's exclusions (kprobes blacklist, perf,
//    static-call trampolines, .cold parts, NOKPROBE symbols, __init and irqentry text).
// The lists are read once per process; every function here that takes a list is pure (unit-tested with
// synthetic lists).
import fs from 'node:fs';
import { tracefsDir } from '../compile/tracepoints.js';

/** BCC's syscall wrapper prefixes, in BCC's order (the first one whose `bpf` syscall exists wins). */
export const SYSCALL_PREFIXES = [
  'sys_', '__x64_sys_', '__x32_compat_sys_', '__ia32_compat_sys_', '__arm64_sys_', '__s390x_sys_', '__s390_sys_', '__riscv_sys_',
];
/** Inner syscall bodies, used when no wrapper with a prefix above exists (older kernels, other arches). */
const SYSCALL_INNER = ['__se_sys_', '__do_sys_'];
const ANY_SYSCALL_PREFIX = new RegExp(`^(${[...SYSCALL_PREFIXES, ...SYSCALL_INNER].map(p => p.replace(/\W/g, '\\$&')).sort((a, b) => b.length - a.length).join('|')})`);

/** A compiler clone's suffix chain: `.isra.0`, `.constprop.0.isra.0`, `.part.3`, `.llvm.123` (no `.cold`). */
const CLONE_SUFFIX = /^(\.(isra|constprop|part|llvm)\.\d+)+$/;
/** Preference among clones of one function: whole-function clones before partial ones. */
const cloneRank = (suffix: string) => (suffix.startsWith('.isra') ? 0 : suffix.startsWith('.constprop') ? 1 : suffix.startsWith('.llvm') ? 2 : 3);

// ------------------------------------------------------------------------------------------- parsing

/** Names in available_filter_functions ("name" or "name [module]" per line), in file order, with repeats. */
export function parseAvailableFilterFunctions(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    const name = sp < 0 ? line : line.slice(0, sp);
    if (name) out.push(name);
  }
  return out;
}

/**
 * Text symbols (types t, T, w, W) of /proc/kallsyms ("addr type name[\t[module]]"), minus the ones
 * BCC skips: everything between _sinittext/_einittext (or __init_begin/__init_end: freed after boot)
 * and between __irqentry_text_start/__irqentry_text_end. kallsyms lists the kernel's own symbols in
 * address order, so the markers work even when addresses read as zeros (kptr_restrict).
 */
export function parseKallsyms(text: string): string[] {
  const has = (sym: string) => text.includes(` ${sym}\n`);
  const [initStart, initEnd] = has('_sinittext') && has('_einittext') ? ['_sinittext', '_einittext']
    : has('__init_begin') && has('__init_end') ? ['__init_begin', '__init_end'] : ['', ''];
  const irqPair = has('__irqentry_text_start') && has('__irqentry_text_end');
  const out: string[] = [];
  let skipUntil = '';
  for (const line of text.split('\n')) {
    // "ffffffff81000000 T name" or "ffffffffc0000000 t name\t[module]"
    const sp = line.indexOf(' ');
    if (sp < 0 || line.length < sp + 4) continue;
    const type = line.charCodeAt(sp + 1);
    const tab = line.indexOf('\t', sp + 3);
    const name = tab < 0 ? line.slice(sp + 3) : line.slice(sp + 3, tab);
    if (skipUntil) {
      if (name === skipUntil) skipUntil = '';
      continue;
    }
    if (name === initStart) {
      skipUntil = initEnd;
      continue;
    }
    if (irqPair && name === '__irqentry_text_start') {
      skipUntil = '__irqentry_text_end';
      continue;
    }
    // t T w W
    if (type === 116 || type === 84 || type === 119 || type === 87) out.push(name);
  }
  return out;
}

/** Names in debugfs' kprobes/blacklist ("0xstart-0xend\tname[\t[module]]" per line). */
export function parseKprobeBlacklist(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 2) out.add(f[1]);
  }
  return out;
}

// ------------------------------------------------------------------------------ the running kernel

export interface KernelFunctionSource {
  /** Where the list came from: tracefs is exact; kallsyms also lists notrace and inlined-away names. */
  source: 'available_filter_functions' | 'kallsyms' | 'none';
  names: Set<string>;
}

let cachedSource: KernelFunctionSource | undefined;
let cachedBlacklist: Set<string> | undefined;

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The kernel's traceable functions and where they came from, read once per process. */
export function kernelFunctionSource(): KernelFunctionSource {
  if (cachedSource) return cachedSource;
  const aff = readText(`${tracefsDir()}/available_filter_functions`);
  if (aff) {
    cachedSource = { source: 'available_filter_functions', names: new Set(parseAvailableFilterFunctions(aff)) };
  } else {
    const ks = readText('/proc/kallsyms');
    cachedSource = ks ? { source: 'kallsyms', names: new Set(parseKallsyms(ks)) } : { source: 'none', names: new Set() };
  }
  return cachedSource;
}

/** Functions kprobes may attach to, once per process. */
export function traceableFunctions(): Set<string> {
  return kernelFunctionSource().names;
}

/** The kernel's kprobes blacklist (debugfs), empty where debugfs is not mounted or readable. */
export function kprobeBlacklist(): Set<string> {
  if (!cachedBlacklist) {
    const text = readText('/sys/kernel/debug/kprobes/blacklist');
    cachedBlacklist = text ? parseKprobeBlacklist(text) : new Set();
  }
  return cachedBlacklist;
}

/** Forgets the lists read so far (tests; a module loaded since). */
export function resetKernelFunctionCache(): void {
  cachedSource = undefined;
  cachedBlacklist = undefined;
  clones = new WeakMap();
}

// ------------------------------------------------------------------------------------ resolution

function asSet(available: Iterable<string>): Set<string> {
  return available instanceof Set ? available as Set<string> : new Set(available);
}

/** BCC's get_syscall_prefix: the prefix whose `bpf` syscall exists here (else "sys_"). */
export function syscallPrefix(available: Iterable<string>): string {
  const set = asSet(available);
  return SYSCALL_PREFIXES.find(p => set.has(`${p}bpf`)) ?? SYSCALL_PREFIXES[0];
}

/** The syscall's name without any wrapper prefix ("__x64_sys_openat", "sys_openat", "openat" -> "openat"). */
export function syscallBase(name: string): string {
  return name.replace(ANY_SYSCALL_PREFIX, '');
}

/** This kernel's function for a syscall ("openat", "sys_openat", "__arm64_sys_openat"), or undefined. */
export function pickSyscallFunction(name: string, available: Iterable<string>): string | undefined {
  const set = asSet(available);
  const base = syscallBase(name);
  const first = syscallPrefix(set);
  for (const p of [first, ...SYSCALL_PREFIXES.filter(x => x !== first), ...SYSCALL_INNER]) {
    if (set.has(p + base)) return p + base;
  }
  return undefined;
}

let clones = new WeakMap<Set<string>, Map<string, string[]>>();

/** Compiler clones by their plain name, built once per list ("finish_task_switch" -> [".isra.0" clone]). */
function cloneIndex(set: Set<string>): Map<string, string[]> {
  let idx = clones.get(set);
  if (idx) return idx;
  idx = new Map();
  for (const n of set) {
    const dot = n.indexOf('.');
    if (dot <= 0 || !CLONE_SUFFIX.test(n.slice(dot))) continue;
    const base = n.slice(0, dot);
    const list = idx.get(base);
    if (list) list.push(n);
    else idx.set(base, [n]);
  }
  for (const list of idx.values()) {
    list.sort((a, b) => {
      const sa = a.slice(a.indexOf('.')), sb = b.slice(b.indexOf('.'));
      return cloneRank(sa) - cloneRank(sb) || sa.length - sb.length || (sa < sb ? -1 : sa > sb ? 1 : 0);
    });
  }
  clones.set(set, idx);
  return idx;
}

export interface ResolveOptions {
  /** The name is a syscall ("openat"): resolve it to this kernel's syscall wrapper only. */
  syscall?: boolean;
}

/**
 * Picks the name kprobes can use for `name` among `available` (exported for tests):
 * the exact name; a syscall spelled with any wrapper prefix mapped to this kernel's; a compiler clone
 * of the plain name (the plain one was renamed by the compiler); finally a bare syscall name
 * ("openat"). With `{ syscall: true }`, only the syscall mapping is tried.
 */
export function pickKernelFunction(name: string, available: Iterable<string>, opts: ResolveOptions = {}): string | undefined {
  const set = asSet(available);
  if (opts.syscall) return pickSyscallFunction(name, set);
  if (set.has(name)) return name;
  if (ANY_SYSCALL_PREFIX.test(name)) {
    const sc = pickSyscallFunction(name, set);
    if (sc) return sc;
  }
  const plain = name.includes('.') ? name.slice(0, name.indexOf('.')) : name;
  if (plain !== name && set.has(plain)) return plain;
  const c = cloneIndex(set).get(plain);
  if (c) return c[0];
  return pickSyscallFunction(name, set);
}

/** The error for a function kprobes cannot attach to. */
export class KernelFunctionError extends Error {
  constructor(readonly function_: string, detail?: string) {
    super(`kernel function ${function_} is not traceable on this kernel (${detail ?? 'missing, inlined or notrace'})`);
    this.name = 'KernelFunctionError';
  }
}

/**
 * The attachable name for `name` on the running kernel, or an Error saying it is not traceable here.
 * Several names are alternatives (a function renamed or inlined across kernel versions): the first
 * one this kernel has is taken.
 */
export function resolveKernelFunction(name: string | string[], opts: ResolveOptions = {}): string {
  const names = typeof name === 'string' ? [name] : name;
  const picked = firstExistingKernelFunction(names, traceableFunctions(), opts);
  if (!picked) {
    const src = kernelFunctionSource().source;
    throw new KernelFunctionError(names.join(' or '), src === 'none'
      ? 'missing, inlined or notrace; neither available_filter_functions nor /proc/kallsyms is readable'
      : undefined);
  }
  if (kprobeBlacklist().has(picked)) throw new KernelFunctionError(names.join(' or '), `${picked} is on the kprobes blacklist`);
  return picked;
}

/** The first of several names (a function renamed or inlined across kernel versions) that exists here. */
export function firstExistingKernelFunction(names: string[], available: Iterable<string> = traceableFunctions(),
  opts: ResolveOptions = {}): string | undefined {
  const set = asSet(available);
  for (const n of names) {
    const p = pickKernelFunction(n, set, opts);
    if (p) return p;
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------ globs

/** A funccount-style glob (`*` any run, `?` one character, `[abc]` a class) as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** BCC's name-based exclusions: functions kprobes must not or cannot probe. */
export function kprobeBlacklisted(name: string, blacklist?: Set<string>): boolean {
  if (blacklist?.has(name)) return true;
  return name.startsWith('_kbl_addr_') || name.startsWith('__perf') || name.startsWith('perf_')
    || name.startsWith('__SCT__') || /\.cold(\.\d+)?$/.test(name);
}

/** Expands a glob over `available`, minus exclusions; deduplicated and sorted (exported for tests). */
export function expandPattern(pattern: string, available: Iterable<string>, blacklist?: Set<string>): string[] {
  const re = globToRegExp(pattern);
  const out = new Set<string>();
  for (const n of available) if (re.test(n) && !kprobeBlacklisted(n, blacklist)) out.add(n);
  return [...out].sort();
}

/** Every function kprobes may attach to on this kernel that matches a funccount-style glob. */
export function expandKernelFunctions(pattern: string): string[] {
  return expandPattern(pattern, traceableFunctions(), kprobeBlacklist());
}
