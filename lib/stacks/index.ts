// Stack counts: a BPF hash keyed by (pid, user stack id, kernel stack id, comm, ...) with its
// BPF_STACK_TRACE map -> symbolised stacks (kernel through /proc/kallsyms, user through each process's
// mappings, JIT code through /tmp/perf-PID.map), printed as BCC prints them (the multi-line default,
// the folded -f format) or as `stacks` --json records (docs/json.md), and as flame graph input.
import fs from 'node:fs';
import type { BPF } from '../bpf.js';
import { renderFlameGraph, type FlameGraphOptions, type RecordEmitter } from '../output/index.js';
import { libbpfFns } from '../libbpf/index.js';
import { frameText, KernelSymbols, ProcessSymbols, type FormatOptions, type StackOptions } from '../syms/index.js';

const EFAULT = 14, ENOMEM = 12, EEXIST = 17;

/** One (stack ids, task) of a counts map, as the tool decodes its key. */
export interface StackSample {
  /** The id printed after the comm: the process ID (profile) or the thread ID (offcputime). */
  pid: number;
  /** Whose address space the user stack is in (symbolised through this process). */
  tgid: number;
  comm: string;
  /** Absent: not collected for this task (wakeuptime has only the waker's kernel stack). */
  userStackId?: number;
  kernelStackId?: number;
  /** profile: the sampled kernel IP, put in front of the kernel stack (its first frame, as BCC does). */
  kernelIp?: bigint;
  /** stackcount at a uprobe: the return address read at the function's entry, put back as the user stack's second frame. */
  userCallerIp?: bigint;
  /** offwaketime: the task that woke it, with its own stacks. */
  waker?: { pid?: number; tgid: number; comm: string; userStackId?: number; kernelStackId?: number };
  /** Samples, microseconds blocked, calls: what the map counts. */
  value: number;
}

/**
 * A stack's frames, innermost first: names ("[unknown]" where no symbol covers an address), `null`
 * when the kernel could not store the stack (BCC's "[Missed User Stack]"), `[]` when there is none
 * (a kernel thread's user stack), `undefined` when the tool does not collect that side (-U, -K).
 */
export type Frames = string[] | null | undefined;

export interface SymbolisedStack {
  pid: number;
  tgid: number;
  comm: string;
  user: Frames;
  kernel: Frames;
  waker?: { pid?: number; tgid: number; comm: string; user: Frames; kernel: Frames };
  value: number;
}

export interface StackReaderOptions {
  /** The BPF_STACK_TRACE map's name (BCC's "stack_traces"). */
  stackMap?: string;
  /** Which sides the BPF side collects (BCC's -U: user only, -K: kernel only). */
  user?: boolean;
  kernel?: boolean;
}

/**
 * BCC's stack_id_err: a negative id is a stack the kernel could not store (no room, a hash
 * collision), except -EFAULT, which means there is no such stack (user stack of a kernel thread).
 */
export function stackMissed(id: number): boolean {
  return id < 0 && id !== -EFAULT;
}

/**
 * Reads and symbolises the stacks of one tool's BPF object. While the tool runs it keeps the
 * mappings of every process seen in the counts map (track()), so a process that exits before the
 * print still resolves (its files permitting).
 */
export class StackReader {
  readonly stackMap: string;
  readonly user: boolean;
  readonly kernel: boolean;
  /** Stack ids the kernel could not store, in the last read (BCC's "N stack traces could not be displayed"). */
  missed = 0;
  /** Whether one of them failed for want of room (-ENOMEM) or by collision (-EEXIST). */
  missedForRoom = false;
  private readonly processes = new Map<number, ProcessSymbols>();
  private timer?: NodeJS.Timeout;
  private values?: StackValues;

  constructor(private readonly bpf: BPF, opts: StackReaderOptions = {}) {
    this.stackMap = opts.stackMap ?? 'stack_traces';
    this.user = opts.user ?? true;
    this.kernel = opts.kernel ?? true;
    // the kernel takes 30-100 ms to generate /proc/kallsyms: read it while the tool samples, not at its end
    if (this.kernel) KernelSymbols.loadAsync().catch(() => { /* load() at the end says why */ });
  }

  /** The symbols of a process, made (its /proc/PID/maps read) on first sight and kept. */
  processSymbols(tgid: number): ProcessSymbols | undefined {
    if (tgid <= 0) return undefined;
    let s = this.processes.get(tgid);
    if (!s) this.processes.set(tgid, (s = new ProcessSymbols(tgid)));
    return s;
  }

  /**
   * Every `everyMs`, reads a map's keys and keeps the mappings of the processes in them, until
   * stop(); the timer does not keep the tool alive. Either a map keyed by tgid (u32) that the BPF
   * side fills with the processes it samples (no `tgids`: the cheap way, a scan of a small map), or
   * the counts map, with `tgids` picking them out of a key: then each tick reads the keys undecoded
   * and decodes only those not seen before (a batch syscall over the whole map and a hash probe per key).
   */
  track(map: string, tgids?: (key: any) => number[], everyMs = 250): void {
    if (!this.user) return;
    const m = this.bpf.map(map);
    if (!tgids && m.keySize !== 4) throw new Error(`track(${map}): keys are not tgids (u32); say how to find them`);
    const seen = tgids && new SeenKeys(m.keySize);
    this.timer = setInterval(() => {
      const keys = m.rawKeys();
      if (!tgids || !seen) {
        for (let off = 0; off < keys.length; off += 4) this.processSymbols(keys.readUInt32LE(off));
        return;
      }
      const dv = new DataView(keys.buffer, keys.byteOffset, keys.length);
      for (let off = 0; off < keys.length; off += m.keySize) {
        if (seen.add(dv, off)) for (const t of tgids(m.decodeKey(keys, off))) this.processSymbols(t);
      }
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One stack's frames, innermost first (see Frames); `kernelIp` goes in front of a kernel stack. */
  frames(kind: 'user' | 'kernel', id: number, tgid: number, opts: StackOptions & { kernelIp?: bigint; userCallerIp?: bigint } = {}): Frames {
    if (kind === 'user' ? !this.user : !this.kernel) return undefined;
    if (stackMissed(id)) return null;
    if (id < 0) return [];
    const names = kind === 'kernel' ? this.kernelNames(opts) : this.userNames(opts.processSymbols ? opts : { ...opts, processSymbols: this.processSymbols(tgid) });
    return this.named(kind, id, names, opts.kernelIp || undefined, opts.userCallerIp || undefined);
  }

  private stackValues(): StackValues {
    return (this.values ??= new StackValues(this.bpf.map(this.stackMap)));
  }

  private kernelNames(opts: StackOptions): FrameNames {
    let ks: KernelSymbols | undefined;
    try {
      ks = KernelSymbols.load();
    } catch { /* unreadable kallsyms: the frames are there, their names not */ }
    return new FrameNames(ip => frameText(ip, ks, undefined, opts));
  }

  private userNames(opts: StackOptions): FrameNames {
    const ps = opts.processSymbols;
    return new FrameNames(ip => {
      try {
        return frameText(ip, undefined, ps, opts);
      } catch {
        return '[unknown]'; // a file that went away while being read: the frame is there, its name not
      }
    });
  }

  /** The frames of stack `id` named through `names` (kernel stacks without the probe's own frames). */
  private named(kind: 'user' | 'kernel', id: number, names: FrameNames, kernelIp?: bigint, userCallerIp?: bigint): string[] {
    const v = this.stackValues();
    const depth = v.load(id), w = v.words;
    const out: string[] = [];
    const frameIs = (i: number, ip: bigint) => depth > i && BigInt(w[2 * i]) + (BigInt(w[2 * i + 1]) << 32n) === ip;
    // BCC puts the sampled IP in front: kernels whose stack starts at the caller lose the first frame
    if (kernelIp !== undefined && !frameIs(0, kernelIp)) out.push(names.ofBig(kernelIp));
    for (let i = 0; i < depth; i++) out.push(names.of(w[2 * i], w[2 * i + 1]));
    // a walk from a function's first instruction skips its caller (see lib/probes/stacks.ts)
    if (userCallerIp !== undefined && depth > 0 && !frameIs(1, userCallerIp)) out.splice(1, 0, names.ofBig(userCallerIp));
    return kind === 'kernel' ? dropProbeFrames(out) : out;
  }

  /**
   * The samples symbolised, smallest value first (BCC's order: the largest is printed last, next to
   * the prompt); also counts the missed stacks (this.missed).
   */
  read(samples: Iterable<StackSample>, opts: FormatOptions & { showAddress?: boolean } = {}): SymbolisedStack[] {
    this.missed = 0;
    this.missedForRoom = false;
    const note = (id: number | undefined, side: boolean) => {
      if (!side || id === undefined || !stackMissed(id)) return;
      this.missed++;
      this.missedForRoom ||= id === -ENOMEM || id === -EEXIST;
    };
    // Many samples share a stack (every task blocked in the same syscall) and stacks share frames
    // (the same callers): each stack is read and named once, each distinct address named once.
    let kernelNames: FrameNames | undefined;
    const userNames = new Map<number, FrameNames>();
    const users = new Map<number, Map<string | number, Frames>>(), kernels = new Map<string | number, Frames>();
    const frames = (kind: 'user' | 'kernel', id: number | undefined, tgid: number, kernelIp?: bigint, userCallerIp?: bigint): Frames => {
      if (id === undefined || (kind === 'user' ? !this.user : !this.kernel)) return undefined;
      if (stackMissed(id)) return null;
      if (id < 0) return [];
      let seen: Map<string | number, Frames>, key: string | number = id;
      if (kind === 'user') {
        seen = users.get(tgid) ?? new Map();
        if (!users.has(tgid)) users.set(tgid, seen);
        if (userCallerIp) key = `${id}:${userCallerIp}`;
      } else {
        seen = kernels;
        if (kernelIp) key = `${id}:${kernelIp}`;
      }
      let f = seen.get(key);
      if (f === undefined) {
        let names: FrameNames;
        if (kind === 'kernel') {
          names = kernelNames ??= this.kernelNames(opts);
        } else {
          names = userNames.get(tgid) ?? this.userNames({ ...opts, processSymbols: this.processSymbols(tgid) });
          userNames.set(tgid, names);
        }
        seen.set(key, (f = this.named(kind, id, names, kernelIp || undefined, userCallerIp || undefined)));
      }
      return f;
    };
    const out: SymbolisedStack[] = [];
    for (const s of samples) {
      note(s.userStackId, this.user);
      note(s.kernelStackId, this.kernel);
      const st: SymbolisedStack = {
        pid: s.pid, tgid: s.tgid, comm: s.comm, value: s.value,
        user: frames('user', s.userStackId, s.tgid, undefined, s.userCallerIp),
        kernel: frames('kernel', s.kernelStackId, s.tgid, s.kernelIp),
      };
      if (s.waker) {
        const w = s.waker;
        note(w.userStackId, this.user);
        note(w.kernelStackId, this.kernel);
        st.waker = {
          pid: w.pid, tgid: w.tgid, comm: w.comm,
          user: frames('user', w.userStackId, w.tgid),
          kernel: frames('kernel', w.kernelStackId, w.tgid),
        };
      }
      out.push(st);
    }
    return out.sort((a, b) => a.value - b.value);
  }

  /** BCC's closing warning (stderr), or undefined when every stack was stored. */
  missedWarning(): string | undefined {
    if (!this.missed) return undefined;
    return `WARNING: ${this.missed} stack traces could not be displayed.${this.missedForRoom ? ' Consider increasing --stack-storage-size.' : ''}`;
  }
}

/**
 * The names of one address space's frames, each distinct address named once. Stacks repeat the
 * same callers, so most frames are a hit: an open-addressing table over the address's two 32-bit
 * halves (no BigInt, no string key, no boxed number per frame).
 */
class FrameNames {
  private lo = new Uint32Array(1024);
  private hi = new Uint32Array(1024);
  private slot = new Int32Array(1024).fill(-1); // index into names, -1 empty
  private readonly names: string[] = [];
  constructor(private readonly name: (ip: bigint) => string) {}

  /** The frame at the address hi:lo. */
  of(lo: number, hi: number): string {
    const mask = this.slot.length - 1;
    let i = (Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi, 0x85ebca77)) & mask;
    for (;;) {
      const k = this.slot[i];
      if (k < 0) break;
      if (this.lo[i] === lo && this.hi[i] === hi) return this.names[k];
      i = (i + 1) & mask;
    }
    const n = this.name(BigInt(lo) + (BigInt(hi) << 32n));
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.slot[i] = this.names.length;
    this.names.push(n);
    if (this.names.length * 2 > this.slot.length) this.grow();
    return n;
  }

  ofBig(ip: bigint): string {
    return this.of(Number(ip & 0xffffffffn), Number((ip >> 32n) & 0xffffffffn));
  }

  private grow(): void {
    const { lo, hi, slot } = this;
    const size = slot.length * 2, mask = size - 1;
    this.lo = new Uint32Array(size);
    this.hi = new Uint32Array(size);
    this.slot = new Int32Array(size).fill(-1);
    for (let j = 0; j < slot.length; j++) {
      if (slot[j] < 0) continue;
      let i = (Math.imul(lo[j], 0x9e3779b1) ^ Math.imul(hi[j], 0x85ebca77)) & mask;
      while (this.slot[i] >= 0) i = (i + 1) & mask;
      this.lo[i] = lo[j];
      this.hi[i] = hi[j];
      this.slot[i] = slot[j];
    }
  }
}

/** The keys of a map seen so far: an open-addressing set over their 32-bit words (no string per key). */
class SeenKeys {
  private readonly words: number;
  private readonly key: Int32Array;
  private slots: Int32Array;
  private used: Uint8Array;
  private count = 0;

  constructor(private readonly keySize: number) {
    this.words = Math.max(1, Math.ceil(keySize / 4));
    this.key = new Int32Array(this.words);
    this.used = new Uint8Array(1024);
    this.slots = new Int32Array(1024 * this.words);
  }

  /** Adds the key whose bytes start at `off`; whether it was new. */
  add(dv: DataView, off: number): boolean {
    const { key, words } = this, end = off + this.keySize;
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < words; i++) {
      const o = off + 4 * i;
      let x = 0;
      if (o + 4 <= end) x = dv.getInt32(o, true);
      else for (let b = o; b < end; b++) x |= dv.getUint8(b) << (8 * (b - o)); // the last bytes of an odd size
      key[i] = x;
      h = Math.imul(h ^ x, 0x01000193);
    }
    if (!this.insert(key, h)) return false;
    if (++this.count * 2 > this.used.length) this.grow();
    return true;
  }

  private insert(key: Int32Array, h: number): boolean {
    const { words, used, slots } = this, mask = used.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      if (!used[i]) {
        used[i] = 1;
        slots.set(key, i * words);
        return true;
      }
      let same = true;
      for (let w = 0; w < words && same; w++) same = slots[i * words + w] === key[w];
      if (same) return false;
    }
  }

  private grow(): void {
    const { words, used, slots } = this;
    this.used = new Uint8Array(used.length * 2);
    this.slots = new Int32Array(this.used.length * words);
    for (let i = 0; i < used.length; i++) {
      if (!used[i]) continue;
      const key = slots.subarray(i * words, (i + 1) * words);
      let h = 0x811c9dc5 | 0;
      for (let w = 0; w < words; w++) h = Math.imul(h ^ key[w], 0x01000193);
      this.insert(key, h);
    }
  }
}

/**
 * A BPF_STACK_TRACE map's values read into one reused buffer, as 32-bit halves: no array of BigInts
 * per stack. (Stack maps have no batch lookup: one syscall per stack.)
 */
class StackValues {
  private readonly fd: number;
  private readonly key = Buffer.alloc(4);
  private readonly value: Buffer;
  /** The last stack loaded: address i is words[2i] (low half), words[2i+1] (high half). */
  readonly words: Uint32Array;

  constructor(map: { fd: number; valueSize: number }) {
    this.fd = map.fd;
    const bytes = new ArrayBuffer(map.valueSize);
    this.value = Buffer.from(bytes);
    this.words = new Uint32Array(bytes);
  }

  /** Loads stack `id`: its depth (addresses before the first zero), 0 when the map has no such stack. */
  load(id: number): number {
    this.key.writeInt32LE(id);
    if (libbpfFns.map_lookup_elem(this.fd, this.key, this.value) < 0) {
      this.words.fill(0);
      return 0;
    }
    const w = this.words, n = w.length >> 1;
    let depth = 0;
    while (depth < n && (w[2 * depth] | w[2 * depth + 1]) !== 0) depth++;
    return depth;
  }
}

/**
 * A kernel stack taken in a tracepoint program starts in the program and the code that ran it
 * (bpf_prog_<tag>_<name>, bpf_trace_run4, __traceiter_sched_switch when several programs share it): those frames are the tool's,
 * not the traced task's, and BCC's kprobe-based tools never show them.
 */
function dropProbeFrames(frames: string[]): string[] {
  let i = 0;
  while (i < frames.length && isProbeFrame(frames[i])) i++;
  return i ? frames.slice(i) : frames;
}

/** A kernel frame as bpftrace's kstack prints it: "name+off" (decimal offset), or the 0x address unnamed. */
export function bpftraceFrame(ksyms: KernelSymbols, ip: bigint): string {
  const s = ksyms.resolve(ip);
  return s ? `${s.name}+${s.offset}` : `0x${ip.toString(16)}`;
}

/** Whether a kernel frame's name is the tracing program's or the code that ran it (see dropProbeFrames). */
export function isProbeFrame(name: string): boolean {
  return /^(0x[0-9a-f]+ )?(bpf_prog_[0-9a-f]+_|bpf_trace_run\d|__bpf_trace_|__traceiter_|bpf_trampoline_)/.test(name);
}

// ------------------------------------------------------------------ text

export interface PrintOptions {
  /** BCC's -d: "--" between the kernel and the user stack (multi-line), "-" in folded lines. */
  delimited?: boolean;
  /** BCC's -a: "_[k]" after kernel frames in folded lines (flame graphs colour them). */
  annotations?: boolean;
  /** The multi-line stack without its value line (offcpuhist prints a histogram under it instead). */
  withoutValue?: boolean;
}

const MISSED_USER = '[Missed User Stack]', MISSED_KERNEL = '[Missed Kernel Stack]';

/**
 * BCC's default multi-line stack: kernel frames, then user frames, then "- comm (pid)" and the value.
 * With a waker (offwaketime): the waker's stacks read from the root down to the wakeup, "--", then the
 * blocked task's from where it blocked, "target: comm pid" and the value.
 */
export function formatStack(s: SymbolisedStack, opts: PrintOptions = {}): string {
  const lines: string[] = [];
  const side = (f: Frames, missed: string, rootFirst = false) => {
    if (f === null) lines.push(`    ${missed}`);
    else if (f) for (const name of rootFirst ? [...f].reverse() : f) lines.push(`    ${name}`);
  };
  const delimit = (a: Frames, b: Frames) => opts.delimited && a && a.length && b && b.length;
  if (s.waker) {
    const w = s.waker;
    lines.push(`    ${'waker:'.padEnd(16)} ${w.comm} ${w.pid}`);
    side(w.user, MISSED_USER, true);
    if (delimit(w.user, w.kernel)) lines.push('    -');
    side(w.kernel, MISSED_KERNEL, true);
    lines.push(`    ${'--'.padEnd(16)} --`);
  }
  side(s.kernel, MISSED_KERNEL);
  if (delimit(s.kernel, s.user)) lines.push(s.waker ? '    -' : '    --');
  side(s.user, MISSED_USER);
  lines.push(s.waker ? `    ${'target:'.padEnd(16)} ${s.comm} ${s.pid}` : `    ${'-'.padEnd(16)} ${s.comm} (${s.pid})`);
  if (!opts.withoutValue) lines.push(`        ${s.value}`, '');
  return lines.join('\n') + '\n';
}

/** A stack's frames from the root: comm, user frames outermost first, then kernel frames (BCC's folded order). */
export function foldedFrames(s: SymbolisedStack, opts: PrintOptions = {}): string[] {
  const out = [s.comm];
  const root = (f: Frames, missed: string, annotate: boolean) => {
    if (f === null) out.push(missed);
    else if (f) for (let i = f.length - 1; i >= 0; i--) out.push(annotate ? `${f[i]}_[k]` : f[i]);
  };
  root(s.user, MISSED_USER, false);
  if (opts.delimited && s.user && s.user.length && s.kernel && s.kernel.length) out.push('-');
  root(s.kernel, MISSED_KERNEL, !!opts.annotations);
  if (s.waker) {
    // offwaketime: the waker's frames follow, leaf first, so the two stacks meet in the middle
    out.push('--');
    const leaf = (f: Frames, missed: string, annotate: boolean) => {
      if (f === null) out.push(missed);
      else if (f) for (const name of f) out.push(annotate ? `${name}_[k]` : name);
    };
    leaf(s.waker.kernel, MISSED_KERNEL, !!opts.annotations);
    if (opts.delimited && s.waker.user && s.waker.user.length && s.waker.kernel && s.waker.kernel.length) out.push('-');
    leaf(s.waker.user, MISSED_USER, false);
    out.push(s.waker.comm);
  }
  return out;
}

/** One folded line: "comm;outer;...;inner value". */
export function foldedLine(s: SymbolisedStack, opts: PrintOptions = {}): string {
  return `${foldedFrames(s, opts).join(';')} ${s.value}`;
}

// ------------------------------------------------------------------ a tool's closing print

export interface PrintStacksOptions extends PrintOptions {
  /** --json: one stacks record, its count in this field ("samples", "total_us"); `tgid` added when it differs in meaning from pid. */
  json?: { emit: RecordEmitter; seconds: number; valueField: string; withTgid?: boolean };
  folded?: boolean;
  /** The default multi-line output's frames: BCC's profile shows offsets and modules, offcputime -s offsets. */
  text?: FormatOptions & { showAddress?: boolean };
  /** The multi-line layout of one stack, when it is not formatStack's (stackcount's "  frame" lines). */
  format?: (s: SymbolisedStack) => string;
  /** --flamegraph FILE: the folded stacks (kernel frames annotated) as an SVG. */
  flamegraph?: { file: string } & FlameGraphOptions;
}

/**
 * What a stack tool prints at its end, from its samples: a stacks record, folded lines or the
 * multi-line stacks on `out`; the flame graph file; BCC's missed-stacks warning on stderr.
 */
export function printStacks(reader: StackReader, samples: StackSample[], out: { write(s: string): void }, opts: PrintStacksOptions): void {
  const names = reader.read(samples); // names only: folded lines, JSON, the flame graph
  if (opts.json) {
    const { emit, seconds, valueField, withTgid } = opts.json;
    emit.stacks(seconds, valueField, [...names].reverse().map(s => stackJson(s, valueField, !!withTgid)), { missed_stacks: reader.missed });
  } else if (opts.folded) {
    for (const s of names) out.write(foldedLine(s, opts) + '\n');
  } else {
    const text = opts.text && Object.values(opts.text).some(Boolean) ? reader.read(samples, opts.text) : names;
    for (const s of text) out.write(opts.format ? opts.format(s) : formatStack(s, opts));
  }
  if (opts.flamegraph) {
    const { file, ...graph } = opts.flamegraph;
    // stacks not told apart by process (stackcount -K) have no comm: their graph starts at the root frame
    const frames = (s: SymbolisedStack) => foldedFrames(s, { annotations: true }).slice(s.comm ? 0 : 1);
    fs.writeFileSync(file, renderFlameGraph(names.map(s => [frames(s), s.value]), graph));
  }
  const warning = reader.missedWarning();
  if (warning) process.stderr.write(warning + '\n');
}

// ------------------------------------------------------------------ JSON

/** A stack of a `stacks` record back as a SymbolisedStack (stackJson's inverse): for flame graphs of records. */
export function stackFromJson(r: Record<string, any>, valueField: string): SymbolisedStack {
  const s: SymbolisedStack = { pid: r.pid ?? 0, tgid: r.tgid ?? r.pid ?? 0, comm: r.comm ?? '', user: r.user_stack, kernel: r.kernel_stack, value: Number(r[valueField] ?? 0) };
  if (r.waker_comm !== undefined) s.waker = { pid: r.waker_pid, tgid: r.waker_tgid ?? r.waker_pid ?? 0, comm: r.waker_comm, user: r.waker_user_stack, kernel: r.waker_kernel_stack };
  return s;
}

/**
 * One stack of a `stacks` record (docs/json.md): frames innermost first; `user_stack`/`kernel_stack`
 * null when missed, absent when not collected; `valueField` names the count ("samples", "total_us").
 */
export function stackJson(s: SymbolisedStack, valueField: string, withTgid: boolean): Record<string, unknown> {
  const r: Record<string, unknown> = { pid: s.pid };
  if (withTgid) r.tgid = s.tgid;
  r.comm = s.comm;
  if (s.user !== undefined) r.user_stack = s.user;
  if (s.kernel !== undefined) r.kernel_stack = s.kernel;
  if (s.waker) {
    if (s.waker.pid !== undefined) r.waker_pid = s.waker.pid;
    r.waker_comm = s.waker.comm;
    if (s.waker.user !== undefined) r.waker_user_stack = s.waker.user;
    if (s.waker.kernel !== undefined) r.waker_kernel_stack = s.waker.kernel;
  }
  r[valueField] = s.value;
  return r;
}
