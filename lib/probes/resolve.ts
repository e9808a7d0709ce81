// Parsed probe specifications -> the concrete targets they name on this machine: kernel functions
// (the traceable list minus the blacklist, lib/attach/kprobes.ts), tracepoints (tracefs), user
// functions (a library found like the dynamic linker does, its .symtab/.dynsym, PIE or shared
// object: attached at file offsets) and USDT probes (.note.stapsdt of a binary, or of every file
// a process has mapped). A spec that matches nothing is an error that names it.
import fs from 'node:fs';
import { kprobeBlacklist, kprobeBlacklisted, expandKernelFunctions, kernelFunctionSource, resolveKernelFunction, traceableFunctions, KernelFunctionError } from '../attach/kprobes.js';
import { tracefsDir } from '../compile/tracepoints.js';
import { ElfFile, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC } from '../syms/elf.js';
import { resolveLibrary } from '../syms/libraries.js';
import { describeType, nameMatcher, parseProbeSpec, type ProbeSpec } from './spec.js';

interface Target {
  /** Index in the resolved list: the probe's id in the generated BPF (keys of the shared maps). */
  id: number;
  /** The spec it came from. */
  spec: ProbeSpec;
  /** What BCC's tools print for it: the function, "category:event" or the USDT probe name. */
  label: string;
}
export interface KernelFunctionTarget extends Target { type: 'kprobe' | 'kretprobe'; function: string; offset?: number }
export interface TracepointTarget extends Target { type: 'tracepoint'; category: string; event: string }
export interface UserFunctionTarget extends Target {
  type: 'uprobe' | 'uretprobe';
  /** Absolute path of the binary or library. */
  binary: string;
  symbol: string;
  /** The symbol's address in the file (st_value) and the file offset uprobes attach at. */
  address: bigint;
  fileOffset: number;
}
export interface UsdtTarget extends Target {
  type: 'usdt';
  binary: string;
  provider: string;
  name: string;
  /** The argument spec of its first site ("-4@%edi 8@%rsi"), for tools that read arguments. */
  args: string;
  /** How many places in the binary fire it (libbpf attaches them all). */
  sites: number;
}
export type ResolvedProbe = KernelFunctionTarget | TracepointTarget | UserFunctionTarget | UsdtTarget;

/**
 * Probes as resolveProbes would give them, made without looking at this machine: the generic tools'
 * catalogue programs (bpfkit list, precompile, the catalogue test) are generated from them. Each is
 * "t:category:event", "c:function" (libc) or "lib:function", or { spec: "u:binary:probe", provider }.
 */
export function representativeProbes(entries: (string | { spec: string; provider: string })[]): ResolvedProbe[] {
  return entries.map((entry, id): ResolvedProbe => {
    const spec = parseProbeSpec(typeof entry === 'string' ? entry : entry.spec);
    switch (spec.type) {
      case 'tracepoint': return { id, spec, type: 'tracepoint', category: spec.category!, event: spec.name, label: `${spec.category}:${spec.name}` };
      case 'uprobe': case 'uretprobe':
        return { id, spec, type: spec.type, binary: spec.library === 'c' ? 'libc.so.6' : spec.library, symbol: spec.name, address: 0n, fileOffset: 0, label: spec.name };
      case 'usdt':
        return { id, spec, type: 'usdt', binary: spec.library, provider: typeof entry === 'string' ? spec.provider ?? '' : entry.provider, name: spec.name, args: '', sites: 1, label: spec.name };
      default: return { id, spec, type: spec.type, function: spec.name, label: spec.name };
    }
  });
}

/** One probe of each kind that runs here (funccount, stackcount). */
export const ONE_OF_EACH_KIND = ['t:syscalls:sys_enter_getppid', 't:sched:sched_switch', 'c:malloc', { spec: 'u:python3:function__entry', provider: 'python' }];

export interface ResolveOptions {
  /** The process the probes are for (-p): libraries are looked up in its mappings; USDT without a library scans them. */
  pid?: number;
}

/** A spec that matches nothing here, or whose library cannot be found: one line naming it. */
export class ProbeResolveError extends Error {
  constructor(readonly spec: ProbeSpec, message: string) {
    super(message);
    this.name = 'ProbeResolveError';
  }
}

/**
 * Every target of every spec, in order, each once (the same function named by two specs is probed
 * once, under the first); ids are the indexes. Throws ProbeResolveError for a spec matching nothing.
 */
export function resolveProbes(specs: ProbeSpec[], opts: ResolveOptions = {}): ResolvedProbe[] {
  const out: ResolvedProbe[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    for (const t of resolveProbe(spec, opts)) {
      const key = targetKey(t);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ ...t, id: out.length });
    }
  }
  return out;
}

/** The targets of one spec (ids numbered from 0 within it). */
export function resolveProbe(spec: ProbeSpec, opts: ResolveOptions = {}): ResolvedProbe[] {
  switch (spec.type) {
    case 'kprobe': case 'kretprobe': return kernelFunctions(spec);
    case 'tracepoint': return tracepoints(spec);
    case 'uprobe': case 'uretprobe': return userFunctions(spec, opts);
    case 'usdt': return usdtProbes(spec, opts);
  }
}

function targetKey(t: ResolvedProbe): string {
  switch (t.type) {
    case 'kprobe': case 'kretprobe': return `${t.type}:${t.function}+${t.offset ?? 0}`;
    case 'tracepoint': return `t:${t.category}:${t.event}`;
    case 'uprobe': case 'uretprobe': return `${t.type}:${t.binary}:${t.fileOffset}`;
    case 'usdt': return `u:${t.binary}:${t.provider}:${t.name}`;
  }
}

const quoted = (spec: ProbeSpec) => `'${spec.text.trim()}'`;

// ------------------------------------------------------------------------------------------ kernel

function kernelFunctions(spec: ProbeSpec): KernelFunctionTarget[] {
  const type = spec.type as 'kprobe' | 'kretprobe';
  const make = (fn: string, id: number): KernelFunctionTarget => ({ id, spec, type, function: fn, label: fn, offset: spec.offset });
  if (!spec.wildcard) {
    try {
      return [make(resolveKernelFunction(spec.name), 0)];
    } catch (e) {
      if (e instanceof KernelFunctionError) throw new ProbeResolveError(spec, `${quoted(spec)}: ${e.message}`);
      throw e;
    }
  }
  let names: string[];
  if (spec.regex) {
    const match = nameMatcher(spec.name, true);
    const blacklist = kprobeBlacklist();
    names = [...new Set([...traceableFunctions()].filter(n => match(n) && !kprobeBlacklisted(n, blacklist)))].sort();
  } else {
    names = expandKernelFunctions(spec.name);
  }
  if (names.length === 0) {
    const why = kernelFunctionSource().source === 'none' ? ' (neither available_filter_functions nor /proc/kallsyms is readable)' : '';
    throw new ProbeResolveError(spec, `no traceable kernel function matches ${quoted(spec)}${why}`);
  }
  return names.map(make);
}

// -------------------------------------------------------------------------------------- tracepoints

let eventList: { category: string; event: string }[] | undefined;

/** Every tracepoint of this kernel, from tracefs' available_events (else its events/ directory), once per process. */
export function tracepointList(): { category: string; event: string }[] {
  if (eventList) return eventList;
  const dir = tracefsDir();
  const out: { category: string; event: string }[] = [];
  let text: string | undefined;
  try {
    text = fs.readFileSync(`${dir}/available_events`, 'utf8');
  } catch { /* older tracefs or no permission: walk the directory */ }
  if (text) {
    for (const line of text.split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) out.push({ category: line.slice(0, colon), event: line.slice(colon + 1) });
    }
  } else {
    for (const category of readDirs(`${dir}/events`)) {
      for (const event of readDirs(`${dir}/events/${category}`)) out.push({ category, event });
    }
  }
  out.sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : a.event < b.event ? -1 : a.event > b.event ? 1 : 0));
  return (eventList = out);
}

function readDirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter(d => d.isDirectory()).map(d => d.name);
  } catch {
    return [];
  }
}

function tracepoints(spec: ProbeSpec): TracepointTarget[] {
  const category = spec.category!;
  const make = (c: string, e: string, id: number): TracepointTarget => ({ id, spec, type: 'tracepoint', category: c, event: e, label: `${c}:${e}` });
  if (!spec.wildcard) {
    if (fs.existsSync(`${tracefsDir()}/events/${category}/${spec.name}`)) return [make(category, spec.name, 0)];
  } else {
    const cat = nameMatcher(category, spec.regex), ev = nameMatcher(spec.name, spec.regex);
    const hits = tracepointList().filter(t => cat(t.category) && ev(t.event));
    if (hits.length) return hits.map((t, i) => make(t.category, t.event, i));
  }
  if (!fs.existsSync(`${tracefsDir()}/events`)) {
    throw new ProbeResolveError(spec, `${quoted(spec)}: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)`);
  }
  throw new ProbeResolveError(spec, `no tracepoint matches ${quoted(spec)}`);
}

// ------------------------------------------------------------------------------------ user space

function findBinary(spec: ProbeSpec, pid?: number): string {
  try {
    return resolveLibrary(spec.library, pid);
  } catch (e) {
    throw new ProbeResolveError(spec, `${quoted(spec)}: ${(e as Error).message}`);
  }
}

function openElf(spec: ProbeSpec, file: string): ElfFile {
  try {
    return ElfFile.cached(file);
  } catch (e) {
    throw new ProbeResolveError(spec, `${quoted(spec)}: ${(e as Error).message}`);
  }
}

/** Among aliases of one address, the name a user knows: visible, global, fewest leading underscores, shortest. */
function aliasRank(s: { name: string; bind: number; hidden?: boolean }): number {
  const underscores = /^_*/.exec(s.name)![0].length;
  return (s.hidden ? 1000 : 0) + (s.bind === STB_GLOBAL ? 0 : s.bind === STB_WEAK ? 100 : 200) + underscores * 10 + Math.min(s.name.length, 9) / 10;
}

function userFunctions(spec: ProbeSpec, opts: ResolveOptions): UserFunctionTarget[] {
  const type = spec.type as 'uprobe' | 'uretprobe';
  const binary = findBinary(spec, opts.pid);
  const elf = openElf(spec, binary);
  const make = (symbol: string, address: bigint, id: number): UserFunctionTarget | undefined => {
    const fileOffset = elf.fileOffset(address);
    return fileOffset === undefined ? undefined : { id, spec, type, binary, symbol, address, fileOffset, label: symbol };
  };
  if (!spec.wildcard) {
    const sym = elf.functionSymbol(spec.name);
    const t = sym && make(spec.name, sym.value, 0);
    if (t) return [t];
    throw new ProbeResolveError(spec, `no function ${spec.name} in ${binary}${elf.symbols().length ? '' : ' (it has no symbols)'}`);
  }
  const match = nameMatcher(spec.name, spec.regex);
  const byAddress = new Map<bigint, { name: string; bind: number; hidden?: boolean }>();
  for (const s of elf.symbols()) {
    if ((s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC) || s.value === 0n || s.shndx === 0 || !match(s.name)) continue;
    const prev = byAddress.get(s.value);
    if (!prev || aliasRank(s) < aliasRank(prev)) byAddress.set(s.value, s);
  }
  const out: UserFunctionTarget[] = [];
  for (const [addr, s] of [...byAddress].sort((a, b) => (a[1].name < b[1].name ? -1 : a[1].name > b[1].name ? 1 : 0))) {
    const t = make(s.name, addr, out.length);
    if (t) out.push(t);
  }
  if (out.length === 0) throw new ProbeResolveError(spec, `no function matches ${quoted(spec)} in ${binary}`);
  return out;
}

/** The files a process has mapped executable (its binary and libraries), each once, in map order. */
export function mappedFiles(pid: number): string[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(/\s+/);
    if (f.length < 6 || !f[1]!.includes('x')) continue;
    const file = f.slice(5).join(' ');
    if (!file.startsWith('/') || file.endsWith(' (deleted)')) continue;
    out.add(file);
  }
  // another mount namespace (a container): read its files through /proc/PID/root
  let root = '';
  try {
    if (fs.readlinkSync(`/proc/${pid}/ns/mnt`) !== fs.readlinkSync('/proc/self/ns/mnt')) root = `/proc/${pid}/root`;
  } catch { /* gone */ }
  return [...out].map(f => root + f);
}

function usdtProbes(spec: ProbeSpec, opts: ResolveOptions): UsdtTarget[] {
  let binaries: string[];
  if (spec.library) binaries = [findBinary(spec, opts.pid)];
  else if (opts.pid) binaries = mappedFiles(opts.pid);
  else throw new ProbeResolveError(spec, `${quoted(spec)}: a USDT probe needs a library or binary (u:/path/to/bin:probe) or -p PID`);
  const name = nameMatcher(spec.name, spec.regex);
  const provider = spec.provider === undefined ? () => true : nameMatcher(spec.provider, spec.regex);
  const out: UsdtTarget[] = [];
  const index = new Map<string, UsdtTarget>();
  for (const binary of binaries) {
    let notes;
    try {
      notes = ElfFile.cached(binary).usdtNotes();
    } catch (e) {
      if (spec.library) throw new ProbeResolveError(spec, `${quoted(spec)}: ${(e as Error).message}`);
      continue; // a mapping that is no ELF file (e.g. a font): not a library
    }
    for (const n of notes) {
      if (!name(n.name) || !provider(n.provider)) continue;
      const key = `${binary}\0${n.provider}\0${n.name}`;
      const had = index.get(key);
      if (had) {
        had.sites++;
        continue;
      }
      const t: UsdtTarget = { id: out.length, spec, type: 'usdt', binary, provider: n.provider, name: n.name, args: n.args, sites: 1, label: n.name };
      index.set(key, t);
      out.push(t);
    }
  }
  if (out.length === 0) {
    const where = spec.library ? binaries[0] : `the files of PID ${opts.pid}`;
    throw new ProbeResolveError(spec, `no USDT probe matches ${quoted(spec)} in ${where}`);
  }
  return out;
}

/** "vfs_read (kernel function)", "/usr/lib/x86_64-linux-gnu/libc.so.6:malloc (user function)": for -v and errors. */
export function describeTarget(t: ResolvedProbe): string {
  switch (t.type) {
    case 'kprobe': case 'kretprobe': return `${t.function}${t.offset ? `+0x${t.offset.toString(16)}` : ''} (${describeType(t.type)})`;
    case 'tracepoint': return `${t.category}:${t.event} (tracepoint)`;
    case 'uprobe': case 'uretprobe': return `${t.binary}:${t.symbol} (${describeType(t.type)})`;
    case 'usdt': return `${t.binary}:${t.provider}:${t.name} (USDT)`;
  }
}

/** Forgets the tracepoint list read so far (tests). */
export function resetProbeCaches(): void {
  eventList = undefined;
}
