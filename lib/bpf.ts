// The BPF object: compile (cached) -> open -> set const volatile globals -> pick probe kinds this kernel
// supports -> load -> attach; typed maps, histograms and event streams on top; close() detaches all.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Btf, makeDecoder, makeEncoder, makeFieldReaders, type DecodeOptions, type FieldReaders } from './btf/index.js';
import { cacheDir, compile } from './compile/index.js';
import { coreBtfFor, discardCoreBtf } from './compile/core-btf.js';
import { contentKey } from './compile/hash.js';
import { TracepointMissingError } from './compile/tracepoints.js';
import {
  features, kindFeatureName, kindSupported, rawTracepointExists, tracepointExists,
} from './attach/features.js';
import { expandKernelFunctions, firstExistingKernelFunction, resolveKernelFunction } from './attach/kprobes.js';
import { fallbackGroup, parseSection, preference, targetFunctions, type ProbeKind, type ProbeSpec } from './attach/sections.js';
import {
  BpfError, bpfError, checkPtr, closeFd, destroyLinksConcurrently, kprobeMultiOpts, kprobeOpts, lastErrno, libbpfFns as f, mmapFd, munmap, openOpts,
  perfEventEnable, perfEventOpen, programRecursionMisses, PROT_READ, PROT_WRITE, releaseLinkFd, takeLog, tracepointOpts, uprobeOpts, usdtOpts, view, type Ptr,
} from './libbpf/index.js';
import { BpfMap, sumPerCpu } from './maps/index.js';
import { Histogram } from './maps/histogram.js';
import { RingBuffer, type RingOptions } from './events/ringbuf.js';
import { PerfBuffer } from './events/perfbuf.js';
import { resolveLibrary } from './syms/libraries.js';

export interface LoadOptions {
  /** C source text (BCC style, `#include <bpfkit.h>`). */
  text?: string;
  /** C source file. */
  file?: string;
  /** A prebuilt BPF ELF object. */
  elf?: Buffer;
  /** Object name: shown in errors and bpftool (defaults to the file name or "bpfkit"). */
  name?: string;
  /** `const volatile` globals to set before load, by variable name. */
  rodata?: Record<string, unknown>;
  cflags?: string[];
  /** Resize maps before load (e.g. ring buffer bytes). */
  maxEntries?: Record<string, number>;
  /** Programs not to load. */
  disable?: string[];
  /** Programs that may be skipped when this kernel cannot run them (e.g. an optional syscall). */
  optional?: string[];
  /** Programs that stand in for the others where this kernel cannot run those (see Substitute). */
  substitutes?: Substitute[];
  /** Relocate against the whole kernel BTF, not the object's own cut of it (lib/compile/core-btf). */
  fullKernelBtf?: boolean;
}

/**
 * A third alternative after a fallback chain: a set of programs on other events (e.g. syscall
 * tracepoints for vfs_* kprobes/fentry) that is loaded only when some of the programs it replaces
 * cannot run here. Then it replaces all of them, so the tool counts in one way, never two.
 */
export interface Substitute {
  /** Its programs, by name; a trailing "*" matches a prefix ("sc_*"). */
  programs: string[];
  /** The programs it replaces (same patterns); by default every program not in a substitute. */
  replaces?: string[];
  /** What the tool then does, for the one line it prints on stderr: "counted at syscalls". */
  says: string;
  /** What it sees differently from the probes it replaces (for docs and bpfkit list). */
  differs: string;
}

/** Which substitute a load chose, and why the programs it replaces could not run. */
export interface Substitution {
  says: string;
  /** "this kernel has no kprobes or fentry", or the missing target. */
  reason: string;
}

const matchesName = (patterns: string[], name: string) =>
  patterns.some(p => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));

export interface Program {
  name: string;
  section: string;
  spec: ProbeSpec;
  ptr: Ptr;
  /** Whether it is loaded (not disabled nor replaced by a better alternative). */
  loaded: boolean;
  /** Why it was not loaded, if so. */
  skipped?: string;
  /** kprobe/fentry kinds: the kernel function chosen among the section's alternatives. */
  function?: string;
  /** kprobe.multi kinds on a kernel without kprobe.multi links: attached with one kprobe per function. */
  perFunction?: boolean;
}

interface MapMeta {
  name: string;
  ptr: Ptr;
}

export interface UprobeOptions {
  /** Library short name ("c"), path, or executable name. */
  binary: string;
  /** Function symbol (libbpf resolves it in the ELF). */
  symbol?: string;
  /** File offset to probe (when no symbol). */
  offset?: number;
  pid?: number;
  retprobe?: boolean;
  /** The program's bpf_get_attach_cookie() for this attachment (which probe fired). */
  cookie?: bigint;
}

export interface PerfEventOptions {
  /** perf type (PERF_TYPE_SOFTWARE=1, HARDWARE=0). */
  type?: number;
  /** perf config (PERF_COUNT_SW_CPU_CLOCK=0). */
  config?: number;
  /** Samples per second per CPU (default 99), or a sample period when `period` is set. */
  frequency?: number;
  period?: number;
  pid?: number;
  cpus?: number[];
}

// Objects still open at exit are closed then. One set and one exit hook per process: every tool's bundle
// has its own copy of this module, and `bpfkit list` may import them all.
const live: Set<{ close(): void }> = ((globalThis as any).__bpfkitLive ??= new Set());
if (!(globalThis as any).__bpfkitExitHook) {
  (globalThis as any).__bpfkitExitHook = true;
  process.on('exit', () => {
    for (const b of live) b.close();
  });
}

export function onlineCpus(): number[] {
  const text = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const cpus: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus;
}

export class BPF {
  readonly name: string;
  readonly programs = new Map<string, Program>();
  private readonly mapMeta = new Map<string, MapMeta>();
  private readonly mapCache = new Map<string, BpfMap>();
  private readonly links: Link[] = [];
  private readonly streams: { close(): void }[] = [];
  private readonly mmaps: [Ptr, number][] = [];
  private obj: Ptr | null;
  private btfCache?: Btf;
  /** Whether the object came from the compile cache. */
  cached = false;
  /** The kernel types its CO-RE relocations used, where not the whole kernel BTF (lib/compile/core-btf). */
  coreBtf?: string;
  /** Set when a substitute (LoadOptions.substitutes) was loaded instead of the programs it replaces. */
  substituted?: Substitution;

  private constructor(obj: Ptr, name: string) {
    this.obj = obj;
    this.name = name;
    live.add(this);
  }

  /** Compiles (cached), opens, configures and loads a BPF program. */
  static load(opts: LoadOptions): BPF {
    const bpf = BPF.open(opts);
    try {
      bpf.choosePrograms(new Set(opts.disable ?? []), new Set(opts.optional ?? []), opts.substitutes ?? []);
    } catch (e) {
      bpf.close();
      throw e; // nothing this kernel can run: the BTF the relocations use does not change that
    }
    try {
      bpf.loadObject();
    } catch (e) {
      bpf.close();
      if (!bpf.coreBtf) throw e;
      // the object's cut of the kernel's types fell short: the whole kernel BTF decides, from now on
      const full = BPF.load({ ...opts, fullKernelBtf: true });
      discardCoreBtf(bpf.coreBtf);
      return full;
    }
    return bpf;
  }

  /** Why this program cannot run on this kernel (no probe kind in a fallback chain works), or undefined. */
  static check(opts: LoadOptions): string | undefined {
    return BPF.plan(opts).error;
  }

  /** What loading would do here, without loading: fail (and why), or run, maybe on a substitute. */
  static plan(opts: LoadOptions): { error?: string; substituted?: Substitution } {
    const bpf = BPF.open(opts);
    try {
      bpf.choosePrograms(new Set(opts.disable ?? []), new Set(opts.optional ?? []), opts.substitutes ?? []);
      return { substituted: bpf.substituted };
    } catch (e) {
      return { error: (e as Error).message.replace(`${bpf.name}: `, '') };
    } finally {
      bpf.close();
    }
  }

  /** Compiles (cached) and opens the object, and applies rodata and map sizes; not yet loaded. */
  private static open(opts: LoadOptions): BPF {
    const name = (opts.name ?? (opts.file ? path.basename(opts.file) : 'bpfkit')).replace(/\.bpf\.c$|\.c$|\.o$/, '');
    let elf = opts.elf;
    let cached = false;
    let key: string | undefined;
    if (!elf) {
      const text = opts.text ?? fs.readFileSync(opts.file!, 'utf8');
      const r = compile({ text, name: `${name}.bpf.c`, cflags: opts.cflags });
      ({ elf, cached, key } = r);
    }
    const coreBtf = opts.fullKernelBtf ? undefined : coreBtfFor(cacheDir(), key ?? contentKey(elf), elf);
    takeLog();
    const obj = checkPtr(f.open_mem(elf, elf.length, openOpts(name.replace(/[^\w]/g, '_').slice(0, 15), coreBtf ?? null)) as Ptr | null, `opening BPF object ${name}`);
    const bpf = new BPF(obj, name);
    bpf.cached = cached;
    bpf.coreBtf = coreBtf;
    try {
      bpf.discover();
      const rodata = { ...opts.rodata, ...bpf.chooseEventBuffers() };
      if (Object.keys(rodata).length) bpf.setRodata(rodata);
      for (const [m, n] of Object.entries(opts.maxEntries ?? {})) {
        const meta = bpf.mapMeta.get(m);
        if (!meta) throw new Error(`${name}: no map named ${m}`);
        const r = f.map_set_max_entries(meta.ptr, n);
        if (r < 0) throw bpfError(`resizing map ${m} to ${n}`, r);
      }
    } catch (e) {
      bpf.close();
      throw e;
    }
    return bpf;
  }

  private discover(): void {
    const obj = this.obj!;
    for (let p = f.next_program(obj, null) as Ptr | null; p; p = f.next_program(obj, p) as Ptr | null) {
      const section = f.prog_section(p) as string;
      const name = f.prog_name(p) as string;
      this.programs.set(name, { name, section, spec: parseSection(section), ptr: p, loaded: true });
    }
    for (let m = f.next_map(obj, null) as Ptr | null; m; m = f.next_map(obj, m) as Ptr | null) {
      const name = f.map_name(m) as string;
      this.mapMeta.set(name, { name, ptr: m });
    }
  }

  /** Ring buffers (BPF_RINGBUF_OUTPUT) fall back to perf buffers on kernels without them. */
  private perfFallback = false;

  /**
   * Creates only the event buffers this kernel can have: the ring buffer, or (kernel < 5.8, or
   * BPFKIT_NO_RINGBUF=1) its perf buffer twin; returns the rodata switch for the BPF side.
   */
  private chooseEventBuffers(): Record<string, unknown> {
    const rings = [...this.mapMeta.values()].filter(m => f.map_type(m.ptr) === 27 && this.mapMeta.has(`${m.name}__perf`));
    if (rings.length === 0) return {};
    this.perfFallback = process.env.BPFKIT_NO_RINGBUF === '1' || !features.ringbuf().ok;
    for (const r of rings) {
      const unused = this.perfFallback ? [r.name] : [`${r.name}__perf`, `${r.name}__heap`];
      for (const name of unused) f.map_set_autocreate(this.mapMeta.get(name)!.ptr, false);
    }
    return this.perfFallback ? { __bpfkit_ringbuf: false } : {};
  }

  /** The object's own BTF (types of maps, events and globals). */
  get btf(): Btf {
    if (!this.btfCache) {
      const b = f.object_btf(this.obj!) as Ptr | null;
      if (!b) throw new Error(`${this.name}: the object has no BTF (compile with -g)`);
      const size = [0];
      const raw = f.btf_raw_data(b, size) as Ptr;
      this.btfCache = Btf.parse(new Uint8Array(view(raw, size[0]).slice(0)));
    }
    return this.btfCache;
  }

  /** Data section map (".rodata", ".bss", ".data") and its BTF variables. */
  private dataSection(sec: string) {
    const meta = [...this.mapMeta.values()].find(m => m.name.endsWith(sec) || m.name === sec);
    const ds = this.btf.find(sec, 'datasec');
    return { meta, vars: ds?.vars ?? [] };
  }

  private setRodata(values: Record<string, unknown>): void {
    const { meta, vars } = this.dataSection('.rodata');
    const want = new Map(Object.entries(values).filter(([, v]) => v !== undefined));
    if (want.size === 0) return;
    if (!meta) throw new Error(`${this.name}: no const volatile globals to set (${[...want.keys()].join(', ')})`);
    const size = [0];
    const p = f.map_initial_value(meta.ptr, size) as Ptr;
    const dv = new DataView(view(p, size[0]));
    for (const v of vars) {
      const t = this.btf.type(v.type);
      if (!want.has(t.name)) continue;
      makeEncoder(this.btf, t.type!).encode(want.get(t.name), dv, v.offset);
      want.delete(t.name);
    }
    if (want.size) throw new Error(`${this.name}: no const volatile global named ${[...want.keys()].join(', ')}`);
  }

  /**
   * Keeps, for each group of alternatives, the best kind this kernel supports; where some group has
   * none, the first substitute that can run in full replaces the programs it stands in for.
   */
  private choosePrograms(disabled: Set<string>, optional: Set<string>, substitutes: Substitute[]): void {
    const enabled: Program[] = [];
    for (const p of this.programs.values()) {
      if (disabled.has(p.name)) this.skip(p, 'disabled');
      else enabled.push(p);
    }
    const inSubstitute = (p: Program) => substitutes.some(s => matchesName(s.programs, p.name));
    const primary = this.plan(enabled.filter(p => !inSubstitute(p)), optional);
    if (primary.failures.length === 0) {
      this.apply(primary);
      for (const p of enabled.filter(inSubstitute)) this.skip(p, 'substitute not needed');
      return;
    }
    for (const sub of substitutes) {
      const replaced = (p: Program) => (sub.replaces ? matchesName(sub.replaces, p.name) : !inSubstitute(p));
      if (!primary.failures.every(f => f.members.every(replaced))) continue;
      const plan = this.plan(enabled.filter(p => matchesName(sub.programs, p.name)), optional);
      if (plan.failures.length) continue;
      const kept = this.plan(enabled.filter(p => !inSubstitute(p) && !replaced(p)), optional);
      this.apply(plan);
      this.apply(kept);
      for (const p of enabled.filter(replaced)) this.skip(p, `replaced by the substitute (${sub.says})`);
      for (const p of enabled.filter(p => inSubstitute(p) && !matchesName(sub.programs, p.name))) this.skip(p, 'substitute not needed');
      this.substituted = { says: sub.says, reason: substitutionReason(primary.failures) };
      return;
    }
    const f0 = primary.failures[0]!;
    throw new BpfError(`${this.name}: cannot run ${f0.members.map(p => p.section).join(' or ')}: ${f0.reasons.join('; ')}`, 95);
  }

  /** For each group of alternatives among `members`: the best program this kernel can run, or why none. */
  private plan(members: Program[], optional: Set<string>): ProgramPlan {
    const groups = new Map<string, Program[]>();
    for (const p of members) {
      const g = fallbackGroup(p.spec) ?? `single:${p.name}`;
      groups.set(g, [...(groups.get(g) ?? []), p]);
    }
    const plan: ProgramPlan = { skip: new Map(), failures: [] };
    const wholeBtfSpared = this.coreBtf !== undefined;
    for (const group of groups.values()) {
      group.sort((a, b) => rank(a, wholeBtfSpared) - rank(b, wholeBtfSpared));
      const reasons: string[] = [];
      let chosen: Program | undefined;
      for (const p of group) {
        const why = this.cannotRun(p);
        if (!why) {
          chosen = p;
          break;
        }
        reasons.push(why);
      }
      for (const p of group) if (p !== chosen) plan.skip.set(p, chosen ? `replaced by ${chosen.section}` : reasons.join('; '));
      if (!chosen && !group.every(p => optional.has(p.name))) plan.failures.push({ members: group, reasons });
    }
    return plan;
  }

  private apply(plan: ProgramPlan): void {
    for (const [p, why] of plan.skip) this.skip(p, why);
  }

  private skip(p: Program, why: string): void {
    p.loaded = false;
    p.skipped = why;
    f.prog_set_autoload(p.ptr, false);
  }

  /** Why this program cannot run on this kernel, or undefined. */
  private cannotRun(p: Program): string | undefined {
    const { kind, target } = p.spec;
    const feat = kindSupported(kind);
    if (!feat.ok) return `needs ${kindFeatureName(kind)}: ${feat.why}`;
    if (!target) return undefined;
    switch (kind) {
      case 'tracepoint': {
        const [cat, ev] = target.split('/');
        return tracepointExists(cat, ev) ? undefined : `tracepoint ${cat}:${ev} does not exist on this kernel`;
      }
      case 'raw_tp':
        return rawTracepointExists(target) ? undefined : `tracepoint ${target} does not exist on this kernel`;
      case 'tp_btf':
        // tracefs answers in microseconds; the kernel's BTF (~35 ms to read) only when tracefs is absent
        if (features.tracefs().ok) return rawTracepointExists(target) ? undefined : `tracepoint ${target} does not exist on this kernel`;
        return Btf.vmlinux().find(`btf_trace_${target}`) ? undefined : `tracepoint ${target} has no BTF on this kernel`;
      case 'fentry': case 'fexit': {
        const names = targetFunctions(p.spec);
        p.function = names.find(n => Btf.vmlinux().find(n, 'func'));
        return p.function ? undefined : `${functionList(names)} in the kernel's BTF`;
      }
      case 'kprobe': case 'kretprobe': {
        const names = targetFunctions(p.spec);
        p.function = firstExistingKernelFunction(names);
        return p.function ? undefined : `${functionList(names)} traceable on this kernel (missing, inlined or notrace)`;
      }
      default:
        return undefined;
    }
  }

  private loadObject(): void {
    takeLog();
    for (const p of this.programs.values()) {
      if (!p.loaded) continue;
      // libbpf takes an fentry/fexit target from the section name unless one is set before load
      if ((p.spec.kind === 'fentry' || p.spec.kind === 'fexit') && p.function && p.function !== p.spec.target) {
        const r = f.prog_set_attach_target(p.ptr, 0, p.function);
        if (r < 0) throw bpfError(`setting ${p.name}'s target to ${p.spec.kind} ${p.function}`, r, takeLog());
      }
      // no kprobe.multi links here: load it as a plain kprobe, to be attached once per function
      if (isMultiKind(p.spec.kind) && !features.kprobeMulti().ok) {
        const r = f.prog_set_expected_attach_type(p.ptr, 0);
        if (r < 0) throw bpfError(`loading ${p.name} as a plain kprobe`, r, takeLog());
        p.perFunction = true;
      }
    }
    const r = f.load(this.obj!);
    const log = takeLog();
    if (r >= 0) return;
    const failed = log.map(l => /prog '([^']+)': (?:BPF program )?(?:load|failed)/.exec(l)?.[1]).find(Boolean);
    const prog = failed ? this.programs.get(failed) : undefined;
    const what = prog ? `loading program ${prog.name} (${prog.section})` : `loading BPF object ${this.name}`;
    const err = bpfError(what, r, log);
    const verifier = verifierTail(log);
    if (verifier) err.message += `\nverifier: ${verifier}`;
    throw err;
  }

  // ------------------------------------------------------------ attach

  private program(name: string): Program {
    const p = this.programs.get(name);
    if (!p) throw new Error(`${this.name}: no program named ${name} (have: ${[...this.programs.keys()].join(', ')})`);
    if (!p.loaded) throw new Error(`${this.name}: program ${name} was not loaded (${p.skipped})`);
    return p;
  }

  private addLink(link: Ptr | null, what: string, kind: ProbeKind): Ptr {
    if (!link) {
      const e = lastErrno();
      throw bpfError(what, e, takeLog());
    }
    this.links.push({ ptr: link, kind });
    return link;
  }

  /** Attaches every loaded program whose SEC() names its target; returns how many were attached. */
  attachAll(): number {
    let n = 0;
    for (const p of this.programs.values()) {
      if (!p.loaded || !p.spec.target || ['uprobe', 'uretprobe', 'usdt', 'perf_event', 'other'].includes(p.spec.kind)) continue;
      this.attachProgram(p);
      n++;
    }
    return n;
  }

  /** Attaches one loaded program to what its SEC() names (attachAll for a single program). */
  attach(program: string): void {
    this.attachProgram(this.program(program));
  }

  private attachProgram(p: Program): void {
    const { kind, target } = p.spec;
    if (kind === 'tracepoint') {
      const [cat, ev] = target.split('/');
      if (!tracepointExists(cat, ev)) throw new TracepointMissingError(cat, ev, 'does not exist on this kernel');
    }
    if (isMultiKind(kind)) {
      this.attachKprobeMulti(p.name, target);
      return;
    }
    if (kind === 'kprobe' || kind === 'kretprobe') {
      // by resolved name: "sys_openat" -> "__x64_sys_openat", "finish_task_switch" -> its .isra clone
      this.attachKprobe(p.name, p.function ?? targetFunctions(p.spec), { retprobe: kind === 'kretprobe', offset: p.spec.offset });
      return;
    }
    this.addLink(f.attach(p.ptr) as Ptr | null, `attaching ${p.name} to ${p.section}`, p.spec.kind);
  }

  /** A classic tracepoint; `cookie` is what the program's bpf_get_attach_cookie() returns (one program, many events). */
  attachTracepoint(program: string, category: string, event: string, opts: { cookie?: bigint } = {}): void {
    const p = this.program(program);
    if (!tracepointExists(category, event)) throw new TracepointMissingError(category, event, 'does not exist on this kernel');
    const link = opts.cookie === undefined ? f.attach_tracepoint(p.ptr, category, event)
      : f.attach_tracepoint_opts(p.ptr, category, event, tracepointOpts(opts.cookie));
    this.addLink(link as Ptr | null, `attaching ${program} to tracepoint ${category}:${event}`, 'tracepoint');
  }

  attachRawTracepoint(program: string, event: string): void {
    const p = this.program(program);
    this.addLink(f.attach_raw_tracepoint(p.ptr, event) as Ptr | null, `attaching ${program} to raw tracepoint ${event}`, 'raw_tp');
  }

  /**
   * kprobe/kretprobe on a kernel function; BCC's name variants (syscall wrappers, .isra) are resolved.
   * Several names are alternatives (renamed across kernel versions): the first one this kernel has.
   */
  attachKprobe(program: string, fn: string | string[], opts: { retprobe?: boolean; offset?: number; syscall?: boolean; cookie?: bigint } = {}): void {
    const p = this.program(program);
    const feat = kindSupported('kprobe');
    if (!feat.ok) throw new BpfError(`${program}: needs kprobes: ${feat.why}`, 95);
    const target = resolveKernelFunction(fn, { syscall: opts.syscall });
    this.addLink(f.attach_kprobe_opts(p.ptr, target, kprobeOpts(!!opts.retprobe, opts.offset ?? 0, opts.cookie ?? 0n)) as Ptr | null,
      `attaching ${program} to ${opts.retprobe ? 'kretprobe' : 'kprobe'} ${target}`, opts.retprobe ? 'kretprobe' : 'kprobe');
  }

  /** One program on every function matching a glob (`vfs_*`), as funccount does; returns the functions. */
  attachKprobeMulti(program: string, pattern: string, opts: { retprobe?: boolean } = {}): string[] {
    const p = this.program(program);
    const feat = kindSupported(isMultiKind(p.spec.kind) ? p.spec.kind : 'kprobe');
    if (!feat.ok) throw new BpfError(`${program}: needs kprobes: ${feat.why}`, 95);
    const fns = expandKernelFunctions(pattern);
    if (fns.length === 0) throw new BpfError(`no traceable kernel function matches '${pattern}'`, 2);
    const retprobe = opts.retprobe ?? (p.spec.kind === 'kretprobe' || p.spec.kind === 'kretprobe.multi');
    // SEC("kprobe.multi"): one link (fprobe-based) where the kernel has them; else one kprobe per function
    if (isMultiKind(p.spec.kind) && !p.perFunction) {
      const link = f.attach_kprobe_multi_opts(p.ptr, null, kprobeMultiOpts(retprobe, fns)) as Ptr | null;
      this.addLink(link, `attaching ${program} to ${retprobe ? 'kretprobe' : 'kprobe'}.multi ${pattern} (${fns.length} functions)`,
        retprobe ? 'kretprobe.multi' : 'kprobe.multi');
      return fns;
    }
    const attached: string[] = [];
    for (const fn of fns) {
      const l = f.attach_kprobe_opts(p.ptr, fn, kprobeOpts(retprobe, 0)) as Ptr | null;
      if (l) {
        this.links.push({ ptr: l, kind: retprobe ? 'kretprobe' : 'kprobe' });
        attached.push(fn);
      }
    }
    takeLog();
    if (attached.length === 0) throw new BpfError(`cannot attach ${program} to any function matching '${pattern}'`, lastErrno());
    return attached;
  }

  attachUprobe(program: string, o: UprobeOptions): void {
    const p = this.program(program);
    const bin = resolveLibrary(o.binary, o.pid);
    const what = `attaching ${program} to ${o.retprobe ? 'uretprobe' : 'uprobe'} ${bin}:${o.symbol ?? `0x${(o.offset ?? 0).toString(16)}`}`;
    this.addLink(f.attach_uprobe_opts(p.ptr, o.pid ?? -1, bin, o.offset ?? 0, uprobeOpts(!!o.retprobe, o.symbol ?? null, o.cookie ?? 0n)) as Ptr | null, what,
      o.retprobe ? 'uretprobe' : 'uprobe');
  }

  /**
   * One kprobe.multi (or kprobe) program on these resolved kernel functions, `cookies[i]` being what
   * bpf_get_attach_cookie() returns in function i: one link where the kernel has kprobe.multi links,
   * else one kprobe per function (those that fail to attach are left out; the attached ones are returned).
   */
  attachKprobeFunctions(program: string, fns: string[], opts: { retprobe?: boolean; cookies?: bigint[] } = {}): string[] {
    const p = this.program(program);
    const feat = kindSupported(isMultiKind(p.spec.kind) ? p.spec.kind : 'kprobe');
    if (!feat.ok) throw new BpfError(`${program}: needs kprobes: ${feat.why}`, 95);
    const retprobe = opts.retprobe ?? (p.spec.kind === 'kretprobe' || p.spec.kind === 'kretprobe.multi');
    if (isMultiKind(p.spec.kind) && !p.perFunction) {
      const link = f.attach_kprobe_multi_opts(p.ptr, null, kprobeMultiOpts(retprobe, fns, opts.cookies ?? null)) as Ptr | null;
      this.addLink(link, `attaching ${program} to ${retprobe ? 'kretprobe' : 'kprobe'}.multi (${fns.length} functions)`,
        retprobe ? 'kretprobe.multi' : 'kprobe.multi');
      return fns;
    }
    const attached: string[] = [];
    fns.forEach((fn, i) => {
      const l = f.attach_kprobe_opts(p.ptr, fn, kprobeOpts(retprobe, 0, opts.cookies?.[i] ?? 0n)) as Ptr | null;
      if (l) {
        this.links.push({ ptr: l, kind: retprobe ? 'kretprobe' : 'kprobe' });
        attached.push(fn);
      }
    });
    takeLog();
    if (attached.length === 0) throw new BpfError(`cannot attach ${program} to any of ${fns.length} kernel functions`, lastErrno());
    return attached;
  }

  /**
   * A USDT probe (`provider:name`, from the binary's .note.stapsdt) through libbpf's USDT support: the
   * program is `SEC("usdt") int BPF_USDT(fn, args...)` with `#include <bpf/usdt.bpf.h>`.
   */
  attachUsdt(program: string, o: { binary: string; provider: string; name: string; pid?: number; cookie?: bigint }): void {
    const p = this.program(program);
    const bin = resolveLibrary(o.binary, o.pid);
    this.addLink(f.attach_usdt(p.ptr, o.pid ?? -1, bin, o.provider, o.name, o.cookie === undefined ? null : usdtOpts(o.cookie)) as Ptr | null,
      `attaching ${program} to USDT ${o.provider}:${o.name} in ${bin}`, 'usdt');
  }

  /** Attaches a perf_event program to a sampling event on each CPU (BCC's attach_perf_event). */
  attachPerfEvent(program: string, o: PerfEventOptions = {}): void {
    const p = this.program(program);
    const attr = Buffer.alloc(128);
    attr.writeUInt32LE(o.type ?? 1, 0);
    attr.writeUInt32LE(128, 4);
    attr.writeBigUInt64LE(BigInt(o.config ?? 0), 8);
    if (o.period) {
      attr.writeBigUInt64LE(BigInt(o.period), 16);
    } else {
      attr.writeBigUInt64LE(BigInt(o.frequency ?? 99), 16);
      attr.writeBigUInt64LE(1n << 10n, 40); // freq
    }
    for (const cpu of o.cpus ?? onlineCpus()) {
      const fd = perfEventOpen(attr, o.pid ?? -1, cpu, `perf_event_open on CPU ${cpu}`);
      const link = f.attach_perf_event(p.ptr, fd) as Ptr | null;
      if (!link) {
        const e = lastErrno();
        closeFd(fd);
        throw bpfError(`attaching ${program} to perf event on CPU ${cpu}`, e, takeLog());
      }
      perfEventEnable(fd);
      this.links.push({ ptr: link, kind: 'perf_event' });
    }
  }

  // ------------------------------------------------------------ maps and events

  map<K = any, V = any>(name: string): BpfMap<K, V> {
    let m = this.mapCache.get(name);
    if (!m) {
      const meta = this.mapMeta.get(name);
      if (!meta) throw new Error(`${this.name}: no map named ${name} (have: ${[...this.mapMeta.keys()].join(', ')})`);
      m = new BpfMap({
        name, fd: f.map_fd(meta.ptr), type: f.map_type(meta.ptr),
        keySize: f.map_key_size(meta.ptr), valueSize: f.map_value_size(meta.ptr), maxEntries: f.map_max_entries(meta.ptr),
        btf: this.btf, keyTypeId: f.map_btf_key_type_id(meta.ptr), valueTypeId: f.map_btf_value_type_id(meta.ptr),
      });
      this.mapCache.set(name, m);
    }
    return m as BpfMap<K, V>;
  }

  hasMap(name: string): boolean {
    return this.mapMeta.has(name);
  }

  histogram(name: string, slotField = 'slot'): Histogram {
    return new Histogram(this.map(name), slotField);
  }

  /** Decoder of a struct by name in this object's BTF. */
  decoder<T = any>(structName: string, opts?: DecodeOptions) {
    return makeDecoder<T>(this.btf, this.typeId(structName), opts);
  }

  /**
   * One reader per field of a struct, `(dv, off) => value`, for rawEvents() consumers that aggregate
   * and need no object per record: `bpf.rawEvents('events', (dv, off) => count[f.pid(dv, off)]++)`.
   */
  fieldReaders<T = any>(structName: string, opts?: DecodeOptions): FieldReaders<T> {
    return makeFieldReaders<T>(this.btf, this.typeId(structName), opts);
  }

  private typeId(structName: string): number {
    const t = this.btf.find(structName, 'struct') ?? this.btf.find(structName);
    if (!t) throw new Error(`${this.name}: no type named ${structName} in the object's BTF`);
    return t.id;
  }

  /**
   * Streams records of `structName` from a ring buffer (BPF_RINGBUF_OUTPUT) or a perf buffer
   * (BPF_PERF_OUTPUT) map, decoded into plain objects. Consumption starts at once on the event loop.
   */
  events<T = any>(mapName: string, structName: string, onEvent: (e: T) => void,
    opts: RingOptions & DecodeOptions & { pageCount?: number } = {}): RingBuffer | PerfBuffer {
    const d = this.decoder<T>(structName, opts);
    // Variable-length records (shorter than the struct, e.g. execsnoop's argv) are decoded from a
    // zero-filled copy, so no field reads past the record.
    const scratch = new Uint8Array(d.size);
    const scratchView = new DataView(scratch.buffer);
    let bytesOf: DataView | undefined;
    let bytes: Uint8Array = scratch;
    return this.rawEvents(mapName, (dv, off, len) => {
      if (len >= d.size) return onEvent(d.decode(dv, off));
      if (dv !== bytesOf) { // once for a ring buffer's whole mapping
        bytesOf = dv;
        bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
      }
      scratch.fill(0);
      scratch.set(bytes.subarray(off, off + len));
      onEvent(d.decode(scratchView, 0));
    }, opts);
  }

  /** Like events(), with the raw record (a DataView, offset and length valid during the call). */
  rawEvents(mapName: string, onRecord: (dv: DataView, off: number, len: number) => void,
    opts: RingOptions & { pageCount?: number } = {}): RingBuffer | PerfBuffer {
    const m = this.perfFallback && this.mapMeta.has(`${mapName}__perf`) ? this.map(`${mapName}__perf`) : this.map(mapName);
    let s: RingBuffer | PerfBuffer;
    if (m.type === 27) s = new RingBuffer(m.fd, m.maxEntries, onRecord, opts, mapName);
    else if (m.type === 4) s = new PerfBuffer(m.fd, onRecord, mapName, opts.pageCount ?? 64);
    else throw new Error(`${this.name}: map ${mapName} is neither a ring buffer nor a perf event array`);
    this.streams.push(s);
    return s.start();
  }

  /**
   * The addresses of a stack in a BPF_STACK_TRACE map, innermost first; [] for negative ids
   * (bpf_get_stackid failures, e.g. EFAULT). Symbolise them with stackTrace() from the syms module.
   */
  stackIps(mapName: string, stackId: number): bigint[] {
    if (stackId < 0) return [];
    const ips = this.map<number, bigint[]>(mapName).get(stackId) ?? [];
    const end = ips.indexOf(0n); // the map's value is a fixed array: the stack ends at the first zero
    return end < 0 ? ips : ips.slice(0, end);
  }

  /**
   * Events the kernel did not run this object's programs for, because the program (raw_tp, tp_btf,
   * fentry) or any kprobe/tracepoint program (those kinds) was already running on that CPU: the
   * programs' recursion_misses, summed. Counted since load.
   */
  missedEvents(): number {
    let n = 0;
    for (const p of this.programs.values()) if (p.loaded) n += programRecursionMisses(f.prog_fd(p.ptr) as number);
    return n;
  }

  /** Records the BPF side could not store: the <map>__lost per-CPU counter plus perf's own count. */
  lost(mapName: string): number {
    let n = 0;
    const counter = `${mapName}__lost`;
    if (this.mapMeta.has(counter)) {
      const v = this.map(counter).get(0);
      if (v !== undefined) n += Number(sumPerCpu(v as any[]));
    }
    const perfName = this.mapMeta.has(`${mapName}__perf`) ? `${mapName}__perf` : mapName;
    for (const s of this.streams) if (s instanceof PerfBuffer && s.fd === this.map(perfName).fd) n += s.lost;
    return n;
  }

  /** Live read/write access to globals in .bss/.data (mmapped: libbpf's copy is stale after load). */
  globals(section: '.bss' | '.data' = '.bss'): Record<string, any> {
    const { meta, vars } = this.dataSection(section);
    if (!meta) throw new Error(`${this.name}: no ${section} section`);
    const size = f.map_value_size(meta.ptr);
    const len = Math.ceil(size / 4096) * 4096;
    const p = mmapFd(f.map_fd(meta.ptr), len, PROT_READ | PROT_WRITE, 0, `${section} of ${this.name}`);
    this.mmaps.push([p, len]);
    const dv = new DataView(view(p, len));
    const out: Record<string, any> = {};
    for (const v of vars) {
      const t = this.btf.type(v.type);
      const dec = makeDecoder(this.btf, t.type!);
      const enc = makeEncoder(this.btf, t.type!);
      Object.defineProperty(out, t.name, {
        enumerable: true,
        get: () => dec.decode(dv, v.offset),
        set: (x: unknown) => enc.encode(x, dv, v.offset),
      });
    }
    return out;
  }

  /** Detaches everything and frees the object. Idempotent. */
  close(): void {
    this.closeStreams();
    for (const l of this.links.splice(0)) f.link_destroy(l.ptr);
    this.closeObject();
  }

  /** close(), with the links detached concurrently (see destroyLinksConcurrently). */
  async closeAsync(): Promise<void> {
    this.closeStreams();
    await destroyLinksConcurrently(this.links.splice(0).map(l => l.ptr));
    this.closeObject();
  }

  /**
   * close() for objects of a process about to exit (what tools do at the end). The kernel tears a
   * tracepoint's, kprobe's or uprobe's perf event down slowly: RCU grace periods under its event_mutex,
   * ~35-70 ms each, one after another, so opensnoop's 6 tracepoints kept it from exiting for ~0.25 s and
   * vfsstat's 12 for ~0.8 s (libbpf-tools pays the same, per tracepoint). Those links' fds are handed to
   * a reaper process (cat, reading a pipe this process holds) whose exit, once this process has exited,
   * releases them: the tool ends at once and within a fraction of a second nothing is left loaded. Other
   * links are destroyed here. If the reaper cannot start, this process's own exit releases the fds.
   */
  static async closeForExit(objects: BPF[]): Promise<void> {
    const handedOff: number[] = [];
    const rest: Ptr[] = [];
    for (const b of objects) {
      b.closeStreams();
      for (const l of b.links.splice(0)) {
        if (slowToDetach.has(l.kind) && (f.link_fd(l.ptr) as number) >= 0) handedOff.push(releaseLinkFd(l.ptr));
        else rest.push(l.ptr);
      }
    }
    if (handedOff.length > 0) {
      try {
        const reaper = spawn('/bin/cat', [], { stdio: ['pipe', 'ignore', 'ignore', ...handedOff], detached: true });
        reaper.on('error', () => {});
        reaper.unref();
        // the reaper holds them now: closing ours is quick (not the last reference)
        if (reaper.pid) for (const fd of handedOff) closeFd(fd);
      } catch {
        // left open: released by this process's exit
      }
    }
    await destroyLinksConcurrently(rest);
    for (const b of objects) b.closeObject();
  }

  private closeStreams(): void {
    for (const s of this.streams.splice(0)) s.close();
    for (const [p, len] of this.mmaps.splice(0)) munmap(p, len);
  }

  private closeObject(): void {
    if (this.obj) f.close(this.obj);
    this.obj = null;
    live.delete(this);
  }
}

interface Link {
  ptr: Ptr;
  kind: ProbeKind;
}

/** Links whose perf event the kernel releases only after RCU grace periods (see closeForExit). */
const slowToDetach = new Set<ProbeKind>(['tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe']);

interface ProgramPlan {
  /** Programs not to load, and why. */
  skip: Map<Program, string>;
  /** Groups of alternatives none of which can run here, with each one's reason. */
  failures: { members: Program[]; reasons: string[] }[];
}

/**
 * Why the substitute was needed, briefly: the kernel features missing for every probe kind tried
 * ("this kernel has no kprobes or fentry"), or else the first group's reasons.
 */
function substitutionReason(failures: ProgramPlan['failures']): string {
  const kinds = [...new Set(failures.flatMap(f => f.members.map(p => p.spec.kind)))];
  if (kinds.every(k => !kindSupported(k).ok)) {
    const names = new Set(kinds.reverse().map(k => kindFeatureName(k).replace(/ \(.*\)$/, '')));
    return `this kernel has no ${[...names].join(' or ')}`;
  }
  return failures[0]!.reasons.join('; ');
}

const isMultiKind = (kind: string) => kind === 'kprobe.multi' || kind === 'kretprobe.multi';

/** "function f is not" / "none of f, g is", for the reason a probe's target is missing. */
function functionList(names: string[]): string {
  return names.length === 1 ? `function ${names[0]} is not` : `none of the functions ${names.join(', ')} is`;
}

/**
 * A program's place in its group's order. Where libbpf relocates against the object's cut of the kernel
 * BTF, raw_tp goes before its tp_btf twin: a tp_btf program makes libbpf read and search the whole
 * kernel BTF to find the tracepoint's type (~11 MiB and ~15 ms a start on 6.18), and the twins run the
 * same body (BTF_TRACEPOINT_PROBE reads through BPF_CORE_READ in both), so their cost per event is one.
 */
function rank(p: Program, wholeBtfSpared: boolean): number {
  if (wholeBtfSpared && p.spec.kind === 'raw_tp') return preference.indexOf('tp_btf') - 0.5;
  const i = preference.indexOf(p.spec.kind);
  return i < 0 ? preference.length : i;
}

/** The verifier's reason: the last lines of the program load log. */
function verifierTail(log: string[]): string {
  const start = log.findIndex(l => l.includes('BEGIN PROG LOAD LOG'));
  const end = log.findIndex(l => l.includes('END PROG LOAD LOG'));
  if (start < 0) return '';
  const body = log.slice(start + 1, end > start ? end : undefined).filter(l => !/^processed \d+ insns|^verification time/.test(l));
  return body.slice(-6).join('\n  ');
}
