// Symbols: ELF files (symbol tables, segments), kernel symbols (/proc/kallsyms), process symbols
// (/proc/PID/maps + ELF, JIT perf maps), and library resolution through /etc/ld.so.cache.
import fs from 'node:fs';
import path from 'node:path';

// ------------------------------------------------------------------ ELF

export interface ElfSymbol { name: string; value: bigint; size: bigint; type: number; bind: number; shndx: number }
export interface ElfSection { name: string; type: number; addr: bigint; offset: number; size: number; flags: bigint }
export interface ElfSegment { type: number; flags: number; offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint }

const STT_FUNC = 2, STT_GNU_IFUNC = 10, PT_LOAD = 1, SHT_SYMTAB = 2, SHT_DYNSYM = 11;

export class ElfFile {
  private readonly buf: Buffer;
  private secs?: ElfSection[];
  private syms?: ElfSymbol[];
  private sortedFuncs?: ElfSymbol[];
  readonly type: string;
  readonly machine: number;

  private constructor(buf: Buffer, readonly path: string) {
    if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
    if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path}: only 64-bit little-endian ELF is supported`);
    this.buf = buf;
    const t = buf.readUInt16LE(16);
    this.type = t === 2 ? 'EXEC' : t === 3 ? 'DYN' : `type ${t}`;
    this.machine = buf.readUInt16LE(18);
  }

  static open(p: string): ElfFile {
    return new ElfFile(fs.readFileSync(p), p);
  }

  sections(): ElfSection[] {
    if (this.secs) return this.secs;
    const b = this.buf;
    const shoff = Number(b.readBigUInt64LE(40));
    const shentsize = b.readUInt16LE(58), shnum = b.readUInt16LE(60), shstrndx = b.readUInt16LE(62);
    const raw: ElfSection[] = [];
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      nameOffs.push(b.readUInt32LE(o));
      raw.push({ name: '', type: b.readUInt32LE(o + 4), flags: b.readBigUInt64LE(o + 8), addr: b.readBigUInt64LE(o + 16),
        offset: Number(b.readBigUInt64LE(o + 24)), size: Number(b.readBigUInt64LE(o + 32)) });
    }
    const strtab = raw[shstrndx];
    for (let i = 0; i < raw.length; i++) raw[i].name = strtab ? cstring(b, strtab.offset + nameOffs[i]) : '';
    this.secs = raw;
    return raw;
  }

  section(name: string): Buffer | undefined {
    const s = this.sections().find(x => x.name === name);
    return s ? this.buf.subarray(s.offset, s.offset + s.size) : undefined;
  }

  programHeaders(): ElfSegment[] {
    const b = this.buf;
    const phoff = Number(b.readBigUInt64LE(32));
    const phentsize = b.readUInt16LE(54), phnum = b.readUInt16LE(56);
    const out: ElfSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      out.push({ type: b.readUInt32LE(o), flags: b.readUInt32LE(o + 4), offset: b.readBigUInt64LE(o + 8), vaddr: b.readBigUInt64LE(o + 16),
        filesz: b.readBigUInt64LE(o + 32), memsz: b.readBigUInt64LE(o + 40) });
    }
    return out;
  }

  /** .symtab and .dynsym merged (deduplicated by name+value). */
  symbols(): ElfSymbol[] {
    if (this.syms) return this.syms;
    const secs = this.sections();
    const seen = new Set<string>();
    const out: ElfSymbol[] = [];
    for (const s of secs) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      const b = this.buf;
      const link = b.readUInt32LE(Number(b.readBigUInt64LE(40)) + secs.indexOf(s) * b.readUInt16LE(58) + 40);
      const strOff = secs[link].offset;
      for (let o = s.offset; o + 24 <= s.offset + s.size; o += 24) {
        const nameOff = b.readUInt32LE(o);
        if (!nameOff) continue;
        const info = b[o + 4];
        const sym = { name: cstring(b, strOff + nameOff), type: info & 0xf, bind: info >> 4, shndx: b.readUInt16LE(o + 6),
          value: b.readBigUInt64LE(o + 8), size: b.readBigUInt64LE(o + 16) };
        const key = `${sym.name}@${sym.value}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(sym);
      }
    }
    this.syms = out;
    return out;
  }

  functionSymbol(name: string): { value: bigint; size: bigint } | undefined {
    const s = this.symbols().find(x => x.name === name && (x.type === STT_FUNC || x.type === STT_GNU_IFUNC) && x.value !== 0n);
    return s && { value: s.value, size: s.size };
  }

  /** Virtual address -> file offset through the PT_LOAD segments. */
  fileOffset(vaddr: bigint): number | undefined {
    for (const p of this.programHeaders()) {
      if (p.type === PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.memsz) return Number(vaddr - p.vaddr + p.offset);
    }
    return undefined;
  }

  /** File offset -> virtual address (for addresses seen in a process's mappings). */
  vaddrOf(fileOff: bigint): bigint | undefined {
    for (const p of this.programHeaders()) {
      if (p.type === PT_LOAD && fileOff >= p.offset && fileOff < p.offset + p.filesz) return fileOff - p.offset + p.vaddr;
    }
    return undefined;
  }

  /** The function containing vaddr (or the nearest one below it). */
  functionAt(vaddr: bigint): { name: string; offset: number } | undefined {
    if (!this.sortedFuncs) {
      this.sortedFuncs = this.symbols().filter(s => (s.type === STT_FUNC || s.type === STT_GNU_IFUNC) && s.value !== 0n)
        .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    }
    const f = this.sortedFuncs;
    let lo = 0, hi = f.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (f[mid].value <= vaddr) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (best < 0) return undefined;
    const s = f[best];
    if (s.size && vaddr >= s.value + s.size && best + 1 < f.length) return undefined;
    return { name: s.name, offset: Number(vaddr - s.value) };
  }
}

function cstring(b: Buffer, off: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 ? b.length : end);
}

// ------------------------------------------------------------------ kernel symbols

export interface ResolvedSymbol { name: string; offset: number; module?: string }

export class KernelSymbols {
  private static instance?: KernelSymbols;
  private readonly addrs: Float64Array; // sorted; exact for kernel text (< 2^53 after masking)
  private readonly names: string[];
  private readonly modules: (string | undefined)[];
  private byName?: Map<string, bigint>;

  private constructor(text: string) {
    const addrs: number[] = [];
    const names: string[] = [];
    const modules: (string | undefined)[] = [];
    let pos = 0;
    const n = text.length;
    while (pos < n) {
      let eol = text.indexOf('\n', pos);
      if (eol < 0) eol = n;
      // Stay within the line: an indexOf('\t') past its end would make this O(n^2).
      const sp1 = text.indexOf(' ', pos);
      const type = text.charCodeAt(sp1 + 1) | 0x20; // lower case
      if (type === 0x74 /* t */ || type === 0x77 /* w */) {
        let nameEnd = sp1 + 3;
        while (nameEnd < eol && text.charCodeAt(nameEnd) !== 9) nameEnd++;
        // kernel addresses are ffffffffxxxxxxxx: the low 48 bits are exact in a double
        const addr = parseInt(text.slice(sp1 - 12, sp1), 16);
        if (addr) {
          addrs.push(addr);
          names.push(text.slice(sp1 + 3, nameEnd));
          modules.push(nameEnd < eol ? text.slice(nameEnd + 2, eol - 1) : undefined);
        }
      }
      pos = eol + 1;
    }
    // kallsyms is nearly sorted (modules come last): sort an index only when needed.
    let sorted = true;
    for (let i = 1; i < addrs.length && sorted; i++) if (addrs[i] < addrs[i - 1]) sorted = false;
    const order = sorted ? undefined : Array.from(addrs.keys()).sort((a, b) => addrs[a] - addrs[b]);
    this.addrs = Float64Array.from(order ? order.map(i => addrs[i]) : addrs);
    this.names = order ? order.map(i => names[i]) : names;
    this.modules = order ? order.map(i => modules[i]) : modules;
  }

  static load(): KernelSymbols {
    if (!KernelSymbols.instance) KernelSymbols.instance = new KernelSymbols(fs.readFileSync('/proc/kallsyms', 'utf8'));
    return KernelSymbols.instance;
  }

  resolve(addr: bigint): ResolvedSymbol | undefined {
    const a = Number(addr & 0xffffffffffffn);
    let lo = 0, hi = this.addrs.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid] <= a) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (best < 0) return undefined;
    return { name: this.names[best], offset: a - this.addrs[best], module: this.modules[best] ?? 'kernel' };
  }

  address(name: string): bigint | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (let i = 0; i < this.names.length; i++) {
        if (!this.byName.has(this.names[i])) this.byName.set(this.names[i], BigInt(this.addrs[i]) | 0xffff000000000000n);
      }
    }
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.address(name) !== undefined;
  }

  match(re: RegExp): string[] {
    return [...new Set(this.names.filter(n => re.test(n)))];
  }
}

// ------------------------------------------------------------------ process symbols

interface Mapping { start: bigint; end: bigint; offset: bigint; path: string; exec: boolean }

export class ProcessSymbols {
  private readonly maps: Mapping[];
  private readonly elfs = new Map<string, ElfFile | null>();
  private perfMap?: { start: bigint; size: bigint; name: string }[] | null;

  constructor(readonly pid: number) {
    // Read now: the process may exit before its stacks are symbolised.
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch { /* gone */ }
    this.maps = [];
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
      if (!m) continue;
      this.maps.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), offset: BigInt('0x' + m[4]), path: m[5], exec: m[3].includes('x') });
    }
  }

  private elf(p: string): ElfFile | null {
    if (!this.elfs.has(p)) {
      let e: ElfFile | null = null;
      try {
        e = ElfFile.open(fs.existsSync(`/proc/${this.pid}/root${p}`) ? `/proc/${this.pid}/root${p}` : p);
      } catch { /* not readable or not ELF */ }
      this.elfs.set(p, e);
    }
    return this.elfs.get(p)!;
  }

  resolve(addr: bigint): (ResolvedSymbol & { module: string }) | undefined {
    const m = this.maps.find(x => addr >= x.start && addr < x.end);
    if (m && m.path.startsWith('/')) {
      const e = this.elf(m.path);
      const vaddr = e?.vaddrOf(addr - m.start + m.offset);
      const f = vaddr !== undefined ? e!.functionAt(vaddr) : undefined;
      if (f) return { ...f, module: path.basename(m.path) };
      return undefined;
    }
    return this.resolvePerfMap(addr);
  }

  /** JIT runtimes (node --perf-basic-prof, JVM agents) write /tmp/perf-PID.map. */
  private resolvePerfMap(addr: bigint): (ResolvedSymbol & { module: string }) | undefined {
    if (this.perfMap === undefined) {
      try {
        this.perfMap = fs.readFileSync(`/tmp/perf-${this.pid}.map`, 'utf8').split('\n').filter(Boolean).map(l => {
          const [start, size, ...name] = l.split(' ');
          return { start: BigInt('0x' + start), size: BigInt('0x' + size), name: name.join(' ') };
        });
      } catch {
        this.perfMap = null;
      }
    }
    const e = this.perfMap?.find(x => addr >= x.start && addr < x.start + x.size);
    return e && { name: e.name, offset: Number(addr - e.start), module: `perf-${this.pid}.map` };
  }
}

/** BCC style: "name+0x1a [module]"; "[unknown]" when unresolved. */
export function formatSymbol(s: ResolvedSymbol | undefined, addr: bigint, opts: { showOffset?: boolean; showModule?: boolean } = {}): string {
  if (!s) return opts.showModule ? `[unknown] (0x${addr.toString(16)})` : '[unknown]';
  let out = demangle(s.name);
  if (opts.showOffset) out += `+0x${s.offset.toString(16)}`;
  if (opts.showModule && s.module) out += ` [${s.module}]`;
  return out;
}

const processSymbols = new Map<number, ProcessSymbols>();

/** Frames for a stack's instruction pointers; a process's maps are read once and kept (it may exit). */
export function symbolizeStack(ips: bigint[], kind: 'kernel' | 'user', pid?: number, opts: { showOffset?: boolean; showModule?: boolean } = {}): string[] {
  const out: string[] = [];
  const ks = kind === 'kernel' ? KernelSymbols.load() : undefined;
  let ps: ProcessSymbols | undefined;
  if (kind === 'user' && pid !== undefined) {
    ps = processSymbols.get(pid) ?? new ProcessSymbols(pid);
    processSymbols.set(pid, ps);
  }
  for (const ip of ips) {
    if (!ip) break;
    out.push(formatSymbol(ks ? ks.resolve(ip) : ps?.resolve(ip), ip, opts));
  }
  return out;
}

/** Minimal Itanium demangling of nested plain names (_ZN3foo3barEv -> foo::bar); others unchanged. */
export function demangle(name: string): string {
  const m = /^_ZN((?:\d+[A-Za-z_]\w*)+)E/.exec(name) ?? /^_Z(\d+[A-Za-z_]\w*)/.exec(name);
  if (!m) return name;
  const parts: string[] = [];
  let s = m[1];
  while (s.length) {
    const len = /^(\d+)/.exec(s);
    if (!len) break;
    const n = Number(len[1]);
    parts.push(s.slice(len[1].length, len[1].length + n));
    s = s.slice(len[1].length + n);
  }
  return parts.length ? parts.join('::') : name;
}

// ------------------------------------------------------------------ libraries

let ldCache: string[] | undefined;
/** Library paths listed in /etc/ld.so.cache (format glibc-ld.so.cache1.1). */
function ldSoCache(): string[] {
  if (ldCache) return ldCache;
  ldCache = [];
  try {
    const b = fs.readFileSync('/etc/ld.so.cache');
    let base = b.indexOf('glibc-ld.so.cache1.1');
    if (base < 0) return ldCache;
    const n = b.readUInt32LE(base + 20);
    const entries = base + 48;
    for (let i = 0; i < n; i++) {
      const value = b.readUInt32LE(entries + i * 24 + 8);
      ldCache.push(cstring(b, base + value));
    }
  } catch { /* no cache */ }
  return ldCache;
}

/** "c" / "libc" / "libc.so.6" / a path / an executable name -> absolute path. */
export function resolveLibrary(nameOrPath: string, pid?: number): string {
  if (nameOrPath.includes('/')) {
    if (fs.existsSync(nameOrPath)) return path.resolve(nameOrPath);
    throw new Error(`cannot find library or binary '${nameOrPath}'`);
  }
  const lib = nameOrPath.startsWith('lib') ? nameOrPath : `lib${nameOrPath}`;
  const matches = (p: string) => {
    const base = path.basename(p);
    return base === nameOrPath || base === lib || base.startsWith(`${lib}.so`) || base.startsWith(`${lib}-`) && base.includes('.so');
  };
  if (pid) {
    try {
      for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        const p = line.split(/\s+/)[5];
        if (p && p.startsWith('/') && matches(p)) return p;
      }
    } catch { /* gone */ }
  }
  const cached = ldSoCache().find(matches);
  if (cached) return cached;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir, nameOrPath);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`cannot find library or binary '${nameOrPath}'`);
}
