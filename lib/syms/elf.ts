// A small ELF64 little-endian reader: sections, program headers, symbol tables, notes (build id,
// SystemTap USDT probes) and the address arithmetic uprobes need (virtual address <-> file offset).
// Small files are read whole; big ones (node, browsers) are read section by section on demand.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export interface ElfSection {
  name: string; type: number; addr: bigint; offset: number; size: number; flags: bigint;
  link: number; info: number; entsize: number;
}
export interface ElfSegment { type: number; flags: number; offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint }
export interface ElfSymbol {
  name: string; value: bigint; size: bigint; type: number; bind: number; shndx: number;
  /** From .dynsym with a hidden (non-default) symbol version, e.g. an old memcpy@GLIBC_2.2.5. */
  hidden?: boolean;
}
export interface ElfNote { owner: string; type: number; desc: Buffer }
export interface UsdtProbe {
  provider: string; name: string;
  /** Address of the probe's nop, adjusted for where .stapsdt.base really is (prelink). */
  pc: bigint;
  /** Address of the semaphore (0n: none); adjusted like pc. */
  semaphore: bigint;
  /** The argument spec, e.g. "-4@%edi 8@-16(%rbp)"; see parseUsdtArgs. */
  args: string;
  /** File offset of pc (what a uprobe attaches to). */
  fileOffset?: number;
  /** File offset of the semaphore (the uprobe's ref_ctr_offset). */
  semaphoreOffset?: number;
}
export interface SymbolAt { name: string; offset: number; value: bigint; size: bigint }

export const STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2, STT_SECTION = 3, STT_FILE = 4, STT_GNU_IFUNC = 10;
export const STB_LOCAL = 0, STB_GLOBAL = 1, STB_WEAK = 2;
export const PT_LOAD = 1, PT_NOTE = 4;
export const PF_X = 1, PF_W = 2, PF_R = 4;
export const SHT_SYMTAB = 2, SHT_NOTE = 7, SHT_NOBITS = 8, SHT_DYNSYM = 11, SHT_GNU_VERSYM = 0x6fffffff;
export const SHF_EXECINSTR = 4n, SHF_COMPRESSED = 0x800n;
const SHN_UNDEF = 0, SHN_XINDEX = 0xffff, PN_XNUM = 0xffff;
const NT_GNU_BUILD_ID = 3, NT_STAPSDT = 3;

/** Files up to this size are read whole; larger ones piece by piece. */
const SLURP_LIMIT = 32 << 20;

interface Source { readonly size: number; read(off: number, len: number): Buffer }

class BufferSource implements Source {
  constructor(private readonly buf: Buffer) {}
  get size(): number { return this.buf.length; }
  read(off: number, len: number): Buffer {
    if (off < 0 || off + len > this.buf.length) throw new RangeError(`read past the end (${off}+${len} > ${this.buf.length})`);
    return this.buf.subarray(off, off + len);
  }
}

/** Reads ranges by path: no file descriptor stays open between calls. */
class PathSource implements Source {
  constructor(private readonly file: string, readonly size: number) {}
  read(off: number, len: number): Buffer {
    if (off < 0 || off + len > this.size) throw new RangeError(`read past the end (${off}+${len} > ${this.size})`);
    const out = Buffer.allocUnsafe(len);
    const fd = fs.openSync(this.file, 'r');
    try {
      let done = 0;
      while (done < len) {
        const n = fs.readSync(fd, out, done, len - done, off + done);
        if (n <= 0) throw new Error(`${this.file}: short read`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }
}

function cstr(b: Buffer, off: number): string {
  if (off >= b.length) return '';
  const end = b.indexOf(0, off);
  return b.toString('latin1', off, end < 0 ? b.length : end);
}

function bigToNum(v: bigint): number {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.MAX_SAFE_INTEGER;
}

/** A function symbol table sorted by address, for address -> name lookups. */
interface SortedSymbols { addrs: Float64Array; syms: ElfSymbol[] }

export class ElfFile {
  readonly type: 'EXEC' | 'DYN' | 'REL' | 'CORE' | string;
  readonly machine: number;
  readonly entry: bigint;
  private readonly header: Buffer;
  private secs?: ElfSection[];
  private phdrs?: ElfSegment[];
  private syms?: ElfSymbol[];
  private byName?: Map<string, ElfSymbol[]>;
  private sorted?: SortedSymbols;
  private readonly sectionCache = new Map<string, Buffer>();
  private debug?: ElfFile | null;

  private constructor(private readonly src: Source, readonly path: string) {
    if (src.size < 64) throw new Error(`${path}: not an ELF file`);
    const h = src.read(0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
    if (h[4] !== 2) throw new Error(`${path}: not a 64-bit ELF file`);
    if (h[5] !== 1) throw new Error(`${path}: not a little-endian ELF file`);
    this.header = Buffer.from(h);
    const t = h.readUInt16LE(16);
    this.type = ['NONE', 'REL', 'EXEC', 'DYN', 'CORE'][t] ?? `0x${t.toString(16)}`;
    this.machine = h.readUInt16LE(18);
    this.entry = h.readBigUInt64LE(24);
  }

  /** Opens a file; throws "<path>: not an ELF file" (or the fs error) when it cannot. */
  static open(file: string): ElfFile {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error(`${file}: not an ELF file`);
    if (st.size > SLURP_LIMIT) return new ElfFile(new PathSource(file, st.size), file);
    return new ElfFile(new BufferSource(fs.readFileSync(file)), file);
  }

  /** An ELF image already in memory (e.g. the vDSO read from /proc/PID/mem). */
  static fromBuffer(buf: Buffer, name = '<memory>'): ElfFile {
    return new ElfFile(new BufferSource(buf), name);
  }

  private static cache = new Map<string, ElfFile>();
  /**
   * open() through a small process-wide cache keyed by device, inode, size and mtime, so one
   * file seen through several paths (/proc/PID/root/..., map_files) is read once.
   */
  static cached(file: string): ElfFile {
    const st = fs.statSync(file);
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    let e = ElfFile.cache.get(key);
    if (e) {
      ElfFile.cache.delete(key); // LRU: move to the end
    } else {
      e = ElfFile.open(file);
      if (ElfFile.cache.size >= 64) ElfFile.cache.delete(ElfFile.cache.keys().next().value!);
    }
    ElfFile.cache.set(key, e);
    return e;
  }

  sections(): ElfSection[] {
    if (this.secs) return this.secs;
    const h = this.header;
    const shoff = bigToNum(h.readBigUInt64LE(40));
    const shentsize = h.readUInt16LE(58);
    let shnum = h.readUInt16LE(60), shstrndx = h.readUInt16LE(62);
    if (shoff === 0 || shentsize < 64) return (this.secs = []);
    if (shnum === 0 || shstrndx === SHN_XINDEX) { // extended numbering lives in section 0
      const s0 = this.src.read(shoff, 64);
      if (shnum === 0) shnum = bigToNum(s0.readBigUInt64LE(32));
      if (shstrndx === SHN_XINDEX) shstrndx = s0.readUInt32LE(40);
    }
    if (shoff + shnum * shentsize > this.src.size) throw new Error(`${this.path}: truncated section header table`);
    const tab = this.src.read(shoff, shnum * shentsize);
    const out: ElfSection[] = [];
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      nameOffs.push(tab.readUInt32LE(o));
      out.push({
        name: '', type: tab.readUInt32LE(o + 4), flags: tab.readBigUInt64LE(o + 8), addr: tab.readBigUInt64LE(o + 16),
        offset: bigToNum(tab.readBigUInt64LE(o + 24)), size: bigToNum(tab.readBigUInt64LE(o + 32)),
        link: tab.readUInt32LE(o + 40), info: tab.readUInt32LE(o + 44), entsize: bigToNum(tab.readBigUInt64LE(o + 56)),
      });
    }
    const strsec = out[shstrndx];
    if (strsec && strsec.type !== SHT_NOBITS && strsec.offset + strsec.size <= this.src.size) {
      const names = this.src.read(strsec.offset, strsec.size);
      for (let i = 0; i < out.length; i++) out[i].name = cstr(names, nameOffs[i]);
    }
    return (this.secs = out);
  }

  /** The contents of a section (decompressed if SHF_COMPRESSED with zlib); undefined if absent. */
  section(name: string): Buffer | undefined {
    const cached = this.sectionCache.get(name);
    if (cached) return cached;
    const s = this.sections().find(x => x.name === name);
    if (!s) return undefined;
    const data = this.sectionData(s);
    this.sectionCache.set(name, data);
    return data;
  }

  private sectionData(s: ElfSection): Buffer {
    if (s.type === SHT_NOBITS || s.size === 0) return Buffer.alloc(0);
    if (s.offset + s.size > this.src.size) throw new Error(`${this.path}: section ${s.name} lies past the end of the file`);
    const raw = this.src.read(s.offset, s.size);
    if ((s.flags & SHF_COMPRESSED) === 0n) return raw;
    // Elf64_Chdr: ch_type u32, reserved u32, ch_size u64, ch_addralign u64
    const chType = raw.readUInt32LE(0);
    if (chType !== 1) throw new Error(`${this.path}: section ${s.name} uses an unsupported compression (${chType})`);
    return zlib.inflateSync(raw.subarray(24));
  }

  programHeaders(): ElfSegment[] {
    if (this.phdrs) return this.phdrs;
    const h = this.header;
    const phoff = bigToNum(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    let phnum = h.readUInt16LE(56);
    if (phnum === PN_XNUM) {
      const shoff = bigToNum(h.readBigUInt64LE(40));
      phnum = this.src.read(shoff, 64).readUInt32LE(44);
    }
    if (phoff === 0 || phnum === 0 || phentsize < 56) return (this.phdrs = []);
    if (phoff + phnum * phentsize > this.src.size) throw new Error(`${this.path}: truncated program header table`);
    const tab = this.src.read(phoff, phnum * phentsize);
    const out: ElfSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      out.push({
        type: tab.readUInt32LE(o), flags: tab.readUInt32LE(o + 4), offset: tab.readBigUInt64LE(o + 8),
        vaddr: tab.readBigUInt64LE(o + 16), filesz: tab.readBigUInt64LE(o + 32), memsz: tab.readBigUInt64LE(o + 40),
      });
    }
    return (this.phdrs = out);
  }

  private readSymtab(s: ElfSection, secs: ElfSection[], out: ElfSymbol[], seen: Set<string>): void {
    const strsec = secs[s.link];
    if (!strsec || s.size === 0) return;
    const data = this.sectionData(s);
    const strs = this.sectionData(strsec);
    const ent = s.entsize >= 24 ? s.entsize : 24;
    let versym: Buffer | undefined;
    if (s.type === SHT_DYNSYM) {
      const vs = secs.find(x => x.type === SHT_GNU_VERSYM && x.link === secs.indexOf(s));
      if (vs) versym = this.sectionData(vs);
    }
    for (let o = ent, i = 1; o + 24 <= data.length; o += ent, i++) { // entry 0 is the null symbol
      const nameOff = data.readUInt32LE(o);
      if (nameOff === 0) continue;
      const info = data[o + 4];
      const name = cstr(strs, nameOff);
      const value = data.readBigUInt64LE(o + 8);
      const key = `${name}\0${value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const sym: ElfSymbol = { name, value, size: data.readBigUInt64LE(o + 16), type: info & 0xf, bind: info >> 4, shndx: data.readUInt16LE(o + 6) };
      if (versym && i * 2 + 2 <= versym.length && (versym.readUInt16LE(i * 2) & 0x8000) !== 0) sym.hidden = true;
      out.push(sym);
    }
  }

  /** .symtab and .dynsym merged, deduplicated by name and value (.symtab entries first). */
  symbols(): ElfSymbol[] {
    if (this.syms) return this.syms;
    const secs = this.sections();
    const out: ElfSymbol[] = [];
    const seen = new Set<string>();
    for (const s of secs) if (s.type === SHT_SYMTAB) this.readSymtab(s, secs, out, seen);
    for (const s of secs) if (s.type === SHT_DYNSYM) this.readSymtab(s, secs, out, seen);
    if (!secs.some(s => s.type === SHT_SYMTAB)) {
      // Stripped: symbols from separate debug info (/usr/lib/debug), when installed.
      const dbg = this.debugFile();
      if (dbg) for (const s of dbg.sections()) if (s.type === SHT_SYMTAB) dbg.readSymtab(s, dbg.sections(), out, seen);
    }
    return (this.syms = out);
  }

  /** The symbol named so, defined in this file (not an import), preferring global, then a default version. */
  private lookup(name: string, accept: (s: ElfSymbol) => boolean): ElfSymbol | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (const s of this.symbols()) {
        if (s.shndx === SHN_UNDEF) continue;
        const l = this.byName.get(s.name);
        if (l) l.push(s);
        else this.byName.set(s.name, [s]);
      }
    }
    let best: ElfSymbol | undefined, bestScore = -1;
    for (const s of this.byName.get(name) ?? []) {
      if (!accept(s)) continue;
      const score = (s.hidden ? 0 : 4) + (s.bind === STB_GLOBAL ? 2 : s.bind === STB_WEAK ? 1 : 0);
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  /** A function (STT_FUNC or STT_GNU_IFUNC) defined in this file. */
  functionSymbol(name: string): { value: bigint; size: bigint } | undefined {
    const s = this.lookup(name, x => (x.type === STT_FUNC || x.type === STT_GNU_IFUNC) && x.value !== 0n);
    return s && { value: s.value, size: s.size };
  }

  /** Any defined symbol (function, object, ...). */
  symbol(name: string): ElfSymbol | undefined {
    return this.lookup(name, () => true);
  }

  /** Virtual address -> file offset through the PT_LOAD segments (the offset uprobes attach at). */
  fileOffset(vaddr: bigint): number | undefined {
    for (const p of this.programHeaders()) {
      if (p.type === PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz) return bigToNum(vaddr - p.vaddr + p.offset);
    }
    // Objects without program headers (ET_REL): through the sections.
    if (this.programHeaders().length === 0) {
      for (const s of this.sections()) {
        if (s.addr !== 0n && s.type !== SHT_NOBITS && vaddr >= s.addr && vaddr < s.addr + BigInt(s.size)) return s.offset + Number(vaddr - s.addr);
      }
    }
    return undefined;
  }

  /**
   * File offset -> virtual address, as needed for an address seen in a process mapping
   * (vaddr = addr - map.start + map.offset, then through the PT_LOAD that holds that offset).
   * Segments may share a page; `executable` prefers the executable one.
   */
  vaddrOf(fileOff: bigint, executable = true): bigint | undefined {
    let found: ElfSegment | undefined;
    for (const p of this.programHeaders()) {
      if (p.type !== PT_LOAD || fileOff < p.offset || fileOff >= p.offset + p.filesz) continue;
      if (!found || (((p.flags & PF_X) !== 0) === executable && ((found.flags & PF_X) !== 0) !== executable)) found = p;
    }
    return found ? fileOff - found.offset + found.vaddr : undefined;
  }

  /** The lowest PT_LOAD p_vaddr - p_offset (the usual load bias base: 0 for PIE/shared objects). */
  loadBase(): bigint {
    for (const p of this.programHeaders()) if (p.type === PT_LOAD) return p.vaddr - p.offset;
    return 0n;
  }

  private sortedSymbols(): SortedSymbols {
    if (this.sorted) return this.sorted;
    const secs = this.sections();
    const execSec = (i: number) => { const s = secs[i]; return !!s && (s.flags & SHF_EXECINSTR) !== 0n; };
    const cand = this.symbols().filter(s => {
      if (s.shndx === SHN_UNDEF || s.value === 0n || !s.name) return false;
      if (s.type === STT_FUNC || s.type === STT_GNU_IFUNC) return true;
      // hand-written assembly often leaves labels untyped
      return s.type === STT_NOTYPE && s.size > 0n && s.shndx < 0xff00 && execSec(s.shndx) && !s.name.startsWith('.L') && !s.name.startsWith('$');
    });
    const rank = (s: ElfSymbol) => (s.bind === STB_GLOBAL ? 8 : s.bind === STB_WEAK ? 4 : 0) + (s.type === STT_FUNC ? 2 : 0) + (s.size > 0n ? 1 : 0);
    const under = (n: string) => { let i = 0; while (n.charCodeAt(i) === 95) i++; return i; };
    cand.sort((a, b) => {
      if (a.value !== b.value) return a.value < b.value ? -1 : 1;
      // at one address, the preferred name first: global, typed, sized, fewest leading underscores
      return rank(b) - rank(a) || under(a.name) - under(b.name) || a.name.length - b.name.length;
    });
    const syms: ElfSymbol[] = [];
    for (const s of cand) if (!syms.length || syms[syms.length - 1].value !== s.value) syms.push(s);
    const addrs = new Float64Array(syms.length);
    for (let i = 0; i < syms.length; i++) addrs[i] = Number(syms[i].value);
    return (this.sorted = { addrs, syms });
  }

  /** The function containing vaddr: within its size, or (size 0) before the next function. */
  symbolAt(vaddr: bigint): SymbolAt | undefined {
    const { addrs, syms } = this.sortedSymbols();
    const a = Number(vaddr);
    let lo = 0, hi = addrs.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addrs[mid] <= a) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (best < 0) return undefined;
    const s = syms[best];
    if (vaddr < s.value) return undefined; // above 2^53, Number rounding
    if (s.size > 0n && vaddr >= s.value + s.size) return undefined;
    return { name: s.name, offset: Number(vaddr - s.value), value: s.value, size: s.size };
  }

  /** Kept for callers of the earlier API: symbolAt without value/size. */
  functionAt(vaddr: bigint): { name: string; offset: number } | undefined {
    const s = this.symbolAt(vaddr);
    return s && { name: s.name, offset: s.offset };
  }

  /** Notes from SHT_NOTE sections (or PT_NOTE segments when there are no section headers). */
  notes(sectionName?: string): ElfNote[] {
    const out: ElfNote[] = [];
    const secs = this.sections().filter(s => s.type === SHT_NOTE && (sectionName === undefined || s.name === sectionName));
    if (secs.length) {
      for (const s of secs) parseNotes(this.sectionData(s), out);
    } else if (sectionName === undefined) {
      for (const p of this.programHeaders()) {
        if (p.type === PT_NOTE && p.offset + p.filesz <= BigInt(this.src.size)) parseNotes(this.src.read(Number(p.offset), Number(p.filesz)), out);
      }
    }
    return out;
  }

  /** The GNU build id as lower-case hex. */
  buildId(): string | undefined {
    const n = this.notes().find(x => x.owner === 'GNU' && x.type === NT_GNU_BUILD_ID);
    return n?.desc.toString('hex');
  }

  /** Separate debug info: /usr/lib/debug/.build-id/xx/yyyy.debug, or the .gnu_debuglink file. */
  debugFile(): ElfFile | undefined {
    if (this.debug !== undefined) return this.debug ?? undefined;
    this.debug = null;
    const candidates: string[] = [];
    const id = this.buildId();
    if (id && id.length > 2) candidates.push(`/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`);
    const link = this.section('.gnu_debuglink');
    if (link) {
      const name = cstr(link, 0);
      const dir = path.dirname(this.path);
      if (name) candidates.push(path.join(dir, name), path.join(dir, '.debug', name), path.join('/usr/lib/debug', dir, name));
    }
    for (const c of candidates) {
      if (path.resolve(c) === path.resolve(this.path)) continue;
      try {
        const e = ElfFile.open(c);
        if (!id || e.buildId() === undefined || e.buildId() === id) {
          this.debug = e;
          break;
        }
      } catch { /* absent */ }
    }
    return this.debug ?? undefined;
  }

  /** SystemTap SDT probes (.note.stapsdt), with pc and semaphore adjusted as the SDT spec says. */
  usdtNotes(): UsdtProbe[] {
    const notes = this.notes('.note.stapsdt').filter(n => n.owner === 'stapsdt' && n.type === NT_STAPSDT);
    if (!notes.length) return [];
    const baseSec = this.sections().find(s => s.name === '.stapsdt.base');
    const out: UsdtProbe[] = [];
    for (const n of notes) {
      const d = n.desc;
      if (d.length < 24) continue;
      let pc = d.readBigUInt64LE(0);
      const base = d.readBigUInt64LE(8);
      let semaphore = d.readBigUInt64LE(16);
      let o = 24;
      const provider = cstr(d, o); o += Buffer.byteLength(provider, 'latin1') + 1;
      const name = cstr(d, o); o += Buffer.byteLength(name, 'latin1') + 1;
      const args = cstr(d, o);
      // If the file was prelinked (or otherwise moved), .stapsdt.base's real address differs from
      // the one recorded in the note: shift pc and the semaphore by the difference.
      if (baseSec && base !== 0n) {
        const diff = baseSec.addr - base;
        pc += diff;
        if (semaphore !== 0n) semaphore += diff;
      }
      const p: UsdtProbe = { provider, name, pc, semaphore, args };
      const fo = this.fileOffset(pc);
      if (fo !== undefined) p.fileOffset = fo;
      if (semaphore !== 0n) {
        const so = this.fileOffset(semaphore);
        if (so !== undefined) p.semaphoreOffset = so;
      }
      out.push(p);
    }
    return out;
  }
}

function parseNotes(b: Buffer, out: ElfNote[]): void {
  let o = 0;
  while (o + 12 <= b.length) {
    const namesz = b.readUInt32LE(o), descsz = b.readUInt32LE(o + 4), type = b.readUInt32LE(o + 8);
    const nameOff = o + 12;
    const descOff = nameOff + ((namesz + 3) & ~3);
    const next = descOff + ((descsz + 3) & ~3);
    if (descOff + descsz > b.length) break;
    const owner = b.toString('latin1', nameOff, nameOff + Math.max(0, namesz - 1)).replace(/\0+$/, '');
    out.push({ owner, type, desc: b.subarray(descOff, descOff + descsz) });
    o = next;
  }
}

/** One USDT argument: "-4@%edi" (register), "8@-16(%rbp)" (memory), "4@$5" (constant). */
export interface UsdtArg {
  /** Size in bytes (1, 2, 4, 8). */
  size: number;
  signed: boolean;
  kind: 'reg' | 'mem' | 'const' | 'sib';
  /** Register name without '%' (base register for mem/sib). */
  reg?: string;
  /** Index register and scale (sib: "8@-8(%rbp,%rax,8)"). */
  index?: string; scale?: number;
  /** Displacement for mem/sib; the value for const. */
  value?: bigint;
  /** The original text. */
  text: string;
}

/** Parses an x86-64 / AT&T-style SDT argument string (others come back with kind 'const' only if numeric). */
export function parseUsdtArgs(args: string): UsdtArg[] {
  const out: UsdtArg[] = [];
  for (const text of args.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(-?)(\d+)@(.*)$/.exec(text);
    let size = 8, signed = false, spec = text;
    if (m) {
      signed = m[1] === '-';
      size = Number(m[2]);
      spec = m[3];
    }
    let r: RegExpExecArray | null;
    if ((r = /^%(\w+)$/.exec(spec))) {
      out.push({ size, signed, kind: 'reg', reg: r[1], text });
    } else if ((r = /^\$(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(spec))) {
      out.push({ size, signed, kind: 'const', value: parseBig(r[1]), text });
    } else if ((r = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%(\w+)\)$/.exec(spec))) {
      out.push({ size, signed, kind: 'mem', reg: r[2], value: r[1] ? parseBig(r[1]) : 0n, text });
    } else if ((r = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%(\w+),%(\w+)(?:,(\d+))?\)$/.exec(spec))) {
      out.push({ size, signed, kind: 'sib', reg: r[2], index: r[3], scale: r[4] ? Number(r[4]) : 1, value: r[1] ? parseBig(r[1]) : 0n, text });
    } else {
      throw new Error(`unsupported USDT argument '${text}'`);
    }
  }
  return out;
}

function parseBig(s: string): bigint {
  return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
}
