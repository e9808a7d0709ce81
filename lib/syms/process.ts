// User-space symbols of one process: /proc/PID/maps (read when the object is made: the process
// may be gone by the time its stacks are printed), each mapped file's ELF symbols, the vDSO, and
// JIT perf maps (/tmp/perf-PID.map written by node --perf-basic-prof, JVM agents, ...).
import fs from 'node:fs';
import path from 'node:path';
import { ElfFile } from './elf.js';

export interface ProcessSymbol { name: string; offset: number; module: string }

export interface MapEntry {
  start: bigint; end: bigint; perms: string; offset: bigint; dev: string; inode: number;
  /** Path as the process sees it, without " (deleted)"; '' for anonymous memory, or [heap], [vdso], ... */
  path: string;
  deleted: boolean;
}

/** Parses /proc/PID/maps text; entries come out sorted by start address. */
export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    // start-end perms offset dev inode [path]
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    let p = m[7];
    const deleted = p.endsWith(' (deleted)');
    if (deleted) p = p.slice(0, -' (deleted)'.length);
    out.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3], offset: BigInt('0x' + m[4]), dev: m[5], inode: Number(m[6]), path: p, deleted });
  }
  out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return out;
}

interface PerfMapEntry { start: number; end: number; name: string; seq: number }

/** An append-only JIT symbol file ("START SIZE name" per line, hex), re-read as it grows. */
export class PerfMap {
  private entries: PerfMapEntry[] = [];
  private sorted = true;
  private readBytes = 0;
  private partial = '';
  private lastCheck = 0;

  constructor(readonly file: string) {}

  /** Reads what was appended since the last call (at most every minIntervalMs); false if unreadable. */
  update(minIntervalMs = 0): boolean {
    const now = Date.now();
    if (now - this.lastCheck < minIntervalMs) return this.entries.length > 0;
    this.lastCheck = now;
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return false;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.readBytes) { // rewritten: start over
        this.entries = [];
        this.readBytes = 0;
        this.partial = '';
      }
      if (size === this.readBytes) return true;
      const buf = Buffer.allocUnsafe(size - this.readBytes);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, this.readBytes + got);
        if (n <= 0) break;
        got += n;
      }
      this.readBytes += got;
      this.add(this.partial + buf.toString('utf8', 0, got));
      return true;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Adds lines of perf map text (exposed for tests). */
  add(text: string): void {
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^(?:0x)?([0-9a-fA-F]+)\s+(?:0x)?([0-9a-fA-F]+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1], 16), size = parseInt(m[2], 16);
      const last = this.entries[this.entries.length - 1];
      if (last && start < last.start) this.sorted = false;
      this.entries.push({ start, end: start + size, name: m[3].trim(), seq: this.entries.length });
    }
  }

  /** The most recently written entry that contains addr. */
  lookup(addr: bigint): { name: string; offset: number } | undefined {
    if (!this.sorted) {
      this.entries.sort((a, b) => a.start - b.start || a.seq - b.seq);
      this.sorted = true;
    }
    const e = this.entries, a = Number(addr);
    let lo = 0, hi = e.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid].start <= a) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    // Code can be freed and its range reused: among the entries covering addr, the latest wins.
    let found: PerfMapEntry | undefined;
    for (let i = best, looked = 0; i >= 0 && looked < 64; i--, looked++) {
      if (a < e[i].end && (!found || e[i].seq > found.seq)) found = e[i];
    }
    return found && { name: found.name, offset: a - found.start };
  }

  get size(): number {
    return this.entries.length;
  }
}

let ownVdso: ElfFile | null | undefined;

/** Reads a mapping's bytes from /proc/PID/mem (root, or ptrace access to the process). */
function readMem(pid: number | 'self', start: bigint, end: bigint): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(`/proc/${pid}/mem`, 'r');
    const buf = Buffer.alloc(Number(end - start));
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, Number(start) + got);
      if (n <= 0) break;
      got += n;
    }
    return got === buf.length ? buf : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** This process's vDSO: the kernel gives every process the same image. */
function selfVdso(): ElfFile | null {
  if (ownVdso !== undefined) return ownVdso;
  ownVdso = null;
  try {
    const m = parseMaps(fs.readFileSync('/proc/self/maps', 'utf8')).find(x => x.path === '[vdso]');
    const buf = m && readMem('self', m.start, m.end);
    if (buf) ownVdso = ElfFile.fromBuffer(buf, '[vdso]');
  } catch { /* none */ }
  return ownVdso;
}

/** Whether two paths name one file (ELF data is read by path later, when /proc/PID may be gone). */
function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a), y = fs.statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

function nsPid(pid: number): number {
  try {
    const m = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    const ids = m ? m[1].trim().split(/\s+/) : [];
    return ids.length ? Number(ids[ids.length - 1]) : pid;
  } catch {
    return pid;
  }
}

export interface ProcessSymbolsOptions {
  /** Use /tmp/perf-PID.map for addresses outside mapped files (default true). */
  perfMap?: boolean;
}

export class ProcessSymbols {
  private static pool = new Map<number, ProcessSymbols>();

  /** /proc/PID/maps as read (parsed on first use: tools keep many processes' maps and use few). */
  private mapsText: string;
  private parsedMaps?: MapEntry[];
  private readonly elfs = new Map<string, ElfFile | null>();
  private jitMaps?: PerfMap[];
  private readonly memo = new Map<bigint, ProcessSymbol | undefined>();
  private lastRefresh = Date.now();
  private vdso?: ElfFile | null;
  /** Whether /proc/PID/maps could be read when this was made. */
  readonly alive: boolean;

  constructor(readonly pid: number, private readonly opts: ProcessSymbolsOptions = {}) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch { /* gone, or no such pid */ }
    this.alive = text.length > 0;
    this.mapsText = text;
  }

  private get mapsList(): MapEntry[] {
    return (this.parsedMaps ??= parseMaps(this.mapsText));
  }

  /**
   * The JIT symbol files: /tmp/perf-PID.map, and the process's own /tmp when it is in another PID
   * namespace (asked for when first needed: that file is only reachable while the process lives).
   */
  private get perfMaps(): PerfMap[] {
    if (this.jitMaps) return this.jitMaps;
    this.jitMaps = [];
    if (this.opts.perfMap !== false) {
      const inner = nsPid(this.pid);
      if (inner !== this.pid) this.jitMaps.push(new PerfMap(`/proc/${this.pid}/root/tmp/perf-${inner}.map`));
      this.jitMaps.push(new PerfMap(`/tmp/perf-${this.pid}.map`));
    }
    return this.jitMaps;
  }

  /** One shared instance per pid (kept for the most recent 256 pids); maps re-read on unknown addresses. */
  static forPid(pid: number): ProcessSymbols {
    let s = ProcessSymbols.pool.get(pid);
    if (s) {
      ProcessSymbols.pool.delete(pid);
    } else {
      s = new ProcessSymbols(pid);
      if (ProcessSymbols.pool.size >= 256) ProcessSymbols.pool.delete(ProcessSymbols.pool.keys().next().value!);
    }
    ProcessSymbols.pool.set(pid, s);
    return s;
  }

  /** The mappings as read from /proc/PID/maps. */
  get maps(): readonly MapEntry[] {
    return this.mapsList;
  }

  /** Re-reads /proc/PID/maps (after dlopen or JIT growth); keeps the old list if the process is gone. */
  refresh(): void {
    this.lastRefresh = Date.now();
    try {
      const text = fs.readFileSync(`/proc/${this.pid}/maps`, 'utf8');
      if (text) {
        this.mapsText = text;
        this.parsedMaps = undefined;
        this.memo.clear();
      }
    } catch { /* gone */ }
  }

  /** The mapping that contains addr. */
  mapping(addr: bigint): MapEntry | undefined {
    const maps = this.mapsList;
    let lo = 0, hi = maps.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = maps[mid];
      if (addr < m.start) hi = mid - 1;
      else if (addr >= m.end) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** Name of the module (file basename, [vdso], ...) that contains addr, even when no symbol does. */
  moduleOf(addr: bigint): string | undefined {
    const m = this.mapping(addr);
    if (m?.path) return m.path.startsWith('/') ? path.basename(m.path) : m.path;
    for (const pm of this.perfMaps) if (pm.update(250) && pm.lookup(addr)) return path.basename(pm.file);
    return undefined;
  }

  private elfFor(m: MapEntry): ElfFile | null {
    const key = m.inode ? `${m.dev}:${m.inode}` : m.path;
    const known = this.elfs.get(key);
    if (known !== undefined) return known;
    const hex = (v: bigint) => v.toString(16);
    const candidates = [
      `/proc/${this.pid}/root${m.path}`,                                // the process's mount namespace
      `/proc/${this.pid}/map_files/${hex(m.start)}-${hex(m.end)}`,      // also a deleted or replaced file
      m.path,
    ];
    if (m.deleted) candidates.push(candidates.shift()!);
    else if (sameFile(candidates[0], m.path)) candidates.unshift(m.path); // the same file by a path that outlives the process
    let e: ElfFile | null = null;
    for (const c of candidates) {
      try {
        e = ElfFile.cached(c);
        break;
      } catch { /* next */ }
    }
    this.elfs.set(key, e);
    return e;
  }

  private vdsoElf(m: MapEntry): ElfFile | null {
    if (this.vdso === undefined) {
      const buf = readMem(this.pid, m.start, m.end);
      this.vdso = buf ? ElfFile.fromBuffer(buf, '[vdso]') : selfVdso();
    }
    return this.vdso;
  }

  /**
   * The function containing addr: { name, offset, module: file basename } (mapping(addr) has the path). For files the
   * symbol's address is addr - map.start + map.offset (a file offset) turned into a virtual address
   * through the PT_LOAD segment that holds it (p_vaddr - p_offset): this covers non-PIE executables,
   * PIE and shared libraries alike.
   */
  resolve(addr: bigint): ProcessSymbol | undefined {
    if (this.memo.has(addr)) return this.memo.get(addr);
    let r = this.lookup(addr);
    if (!r && !this.mapping(addr) && Date.now() - this.lastRefresh > 1000) {
      this.refresh(); // a library loaded since the maps were read?
      r = this.lookup(addr);
    }
    if (this.memo.size > 100_000) this.memo.clear();
    this.memo.set(addr, r);
    return r;
  }

  private lookup(addr: bigint): ProcessSymbol | undefined {
    const m = this.mapping(addr);
    if (m && (m.path.startsWith('/') || m.path === '[vdso]')) {
      const e = m.path === '[vdso]' ? this.vdsoElf(m) : this.elfFor(m);
      if (e) {
        const vaddr = e.vaddrOf(addr - m.start + m.offset, m.perms[2] === 'x');
        const s = vaddr !== undefined ? e.symbolAt(vaddr) : undefined;
        if (s) return { name: s.name, offset: s.offset, module: m.path.startsWith('/') ? path.basename(m.path) : m.path };
      }
      if (m.path !== '[vdso]' && !m.path.startsWith('/memfd:')) return undefined;
    }
    // anonymous executable memory: JIT code
    for (const pm of this.perfMaps) {
      if (!pm.update(250)) continue;
      const s = pm.lookup(addr);
      if (s) return { ...s, module: path.basename(pm.file) };
    }
    return undefined;
  }
}
