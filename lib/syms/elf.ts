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

/** One symbol table as read from the file: entries are decoded on demand, names are slices of strs. */
/** "memcpy@GLIBC_2.2.5" and "memcpy@@GLIBC_2.14" as "memcpy" (BCC and perf print the plain name); "f@plt" kept. */
export function unversioned(name: string): string {
  const at = name.indexOf('@');
  return at > 0 && name.slice(at) !== '@plt' ? name.slice(0, at) : name;
}

interface RawSymtab { data: Buffer; strs: Buffer; text?: string; ent: number; count: number; versym?: Buffer; secs: ElfSection[]; dynamic: boolean }

/**
 * Functions sorted by address, for address -> name lookups, kept in typed arrays (a big binary
 * such as node has >100k symbols: no object per symbol). A symbol is (table, entry) or, for
 * synthetic PLT names, an index into plt.
 */
interface SortedSymbols { addrs: Float64Array; ends: Float64Array; table: Int8Array; entry: Uint32Array; plt: ElfSymbol[] }

const TWO32 = 4294967296;

export class ElfFile {
  readonly type: 'EXEC' | 'DYN' | 'REL' | 'CORE' | string;
  readonly machine: number;
  readonly entry: bigint;
  private readonly header: Buffer;
  private secs?: ElfSection[];
  private phdrs?: ElfSegment[];
  private syms?: ElfSymbol[];
  private raw?: RawSymtab[];
  private byName?: Map<string, number[]>; // name -> (table << 24 | entry) candidates
  private lookups = 0;
  private sorted?: SortedSymbols;
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
    const s = this.sections().find(x => x.name === name);
    return s && this.sectionData(s);
  }

  private readonly dataCache = new Map<ElfSection, Buffer>();

  private sectionData(s: ElfSection): Buffer {
    let d = this.dataCache.get(s);
    if (!d) {
      d = this.readSection(s);
      this.dataCache.set(s, d);
    }
    return d;
  }

  private readSection(s: ElfSection): Buffer {
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

  /** The symbol tables: .symtab (this file's, or its separate debug file's when stripped), then .dynsym. */
  private rawTables(): RawSymtab[] {
    if (this.raw) return this.raw;
    const load = (f: ElfFile, sec: ElfSection): RawSymtab | undefined => {
      const secs = f.sections();
      const strsec = secs[sec.link];
      if (!strsec || sec.size === 0) return undefined;
      const data = f.sectionData(sec);
      const ent = sec.entsize >= 24 ? sec.entsize : 24;
      const t: RawSymtab = { data, strs: f.sectionData(strsec), ent, count: Math.floor(data.length / ent), secs, dynamic: sec.type === SHT_DYNSYM };
      if (sec.type === SHT_DYNSYM) {
        const vs = secs.find(x => x.type === SHT_GNU_VERSYM && x.link === secs.indexOf(sec));
        if (vs) t.versym = f.sectionData(vs);
      }
      return t;
    };
    const secs = this.sections();
    let src: ElfFile = this;
    if (!secs.some(x => x.type === SHT_SYMTAB)) src = this.debugFile() ?? this; // stripped: debug info, if installed
    const out: RawSymtab[] = [];
    for (const sec of src.sections()) if (sec.type === SHT_SYMTAB) { const t = load(src, sec); if (t) out.push(t); }
    for (const sec of secs) if (sec.type === SHT_DYNSYM) { const t = load(this, sec); if (t) out.push(t); }
    return (this.raw = out);
  }

  /** Entry i's name: one decode per name, or (bulk) slices of the whole string table decoded once. */
  private rawName(t: RawSymtab, i: number, bulk = false): string {
    const off = t.data.readUInt32LE(i * t.ent);
    if (off === 0 || off >= t.strs.length) return '';
    if (bulk) t.text ??= t.strs.toString('latin1');
    if (t.text !== undefined) {
      const end = t.text.indexOf('\0', off);
      return t.text.slice(off, end < 0 ? t.text.length : end);
    }
    const end = t.strs.indexOf(0, off);
    return t.strs.toString('latin1', off, end < 0 ? t.strs.length : end);
  }

  private rawSymbol(t: RawSymtab, i: number, bulk = false): ElfSymbol {
    const o = i * t.ent, info = t.data[o + 4];
    const sym: ElfSymbol = {
      name: this.rawName(t, i, bulk), value: t.data.readBigUInt64LE(o + 8), size: t.data.readBigUInt64LE(o + 16),
      type: info & 0xf, bind: info >> 4, shndx: t.data.readUInt16LE(o + 6),
    };
    if (t.versym && i * 2 + 2 <= t.versym.length && (t.versym.readUInt16LE(i * 2) & 0x8000) !== 0) sym.hidden = true;
    return sym;
  }

  /** .symtab and .dynsym merged, deduplicated by name and value (.symtab entries first). */
  symbols(): ElfSymbol[] {
    if (this.syms) return this.syms;
    const out: ElfSymbol[] = [];
    const known = new Map<string, bigint[]>(); // global symbols seen: .dynsym repeats them
    for (const t of this.rawTables()) {
      for (let i = 1; i < t.count; i++) { // entry 0 is the null symbol
        if (t.data.readUInt32LE(i * t.ent) === 0) continue;
        const sym = this.rawSymbol(t, i, true);
        const vals = known.get(sym.name);
        if (t.dynamic && vals?.includes(sym.value)) continue;
        if (sym.bind !== STB_LOCAL) {
          if (vals) vals.push(sym.value);
          else known.set(sym.name, [sym.value]);
        }
        out.push(sym);
      }
    }
    return (this.syms = out);
  }

  /** The defined symbol named so (not an import), preferring global, then a default version. */
  private lookup(name: string, accept: (s: ElfSymbol) => boolean): ElfSymbol | undefined {
    const tables = this.rawTables();
    let cands: number[];
    if (this.byName || ++this.lookups > 8) {
      if (!this.byName) { // many lookups: index every name once
        const m = new Map<string, number[]>();
        tables.forEach((t, ti) => {
          for (let i = 1; i < t.count; i++) {
            const nm = this.rawName(t, i, true);
            if (!nm) continue;
            const l = m.get(nm);
            if (l) l.push(ti * 16777216 + i);
            else m.set(nm, [ti * 16777216 + i]);
          }
        });
        this.byName = m;
      }
      cands = this.byName.get(name) ?? [];
    } else { // a few lookups: scan the string tables without creating strings
      cands = [];
      const want = Buffer.from(name, 'latin1'), len = want.length;
      if (!len) return undefined;
      tables.forEach((t, ti) => {
        const strs = t.strs;
        for (let i = 1; i < t.count; i++) {
          const off = t.data.readUInt32LE(i * t.ent);
          if (off && strs[off + len] === 0 && strs[off] === want[0] && strs[off + len - 1] === want[len - 1] &&
              want.compare(strs, off, off + len) === 0) cands.push(ti * 16777216 + i);
        }
      });
    }
    let best: ElfSymbol | undefined, bestScore = -1;
    for (const c of cands) {
      const s = this.rawSymbol(tables[Math.floor(c / 16777216)], c % 16777216);
      if (s.shndx === SHN_UNDEF || !accept(s)) continue;
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

  /**
   * "name@plt" for each PLT stub: a non-PIE executable's calls and function pointers to shared-
   * library functions land on these. x86-64: each stub in .plt, .plt.sec or .plt.got jumps through
   * a GOT slot (ff 25 rel32) whose relocation names the function, as objdump finds them. aarch64:
   * the stubs after the 32-byte PLT0 follow .rela.plt in order.
   */
  pltSymbols(): ElfSymbol[] {
    const secs = this.sections();
    const names = new Map<bigint, string>(); // GOT slot -> function
    const ordered: string[] = [];            // .rela.plt order
    for (const rs of secs) {
      if (rs.type !== 4 /* SHT_RELA */ || !rs.name.startsWith('.rela')) continue;
      const dynsym = secs[rs.link], strsec = dynsym ? secs[dynsym.link] : undefined;
      if (!dynsym || !strsec || dynsym.type !== SHT_DYNSYM) continue;
      const relocs = this.sectionData(rs), syms = this.sectionData(dynsym), strs = this.sectionData(strsec);
      for (let o = 0; o + 24 <= relocs.length; o += 24) {
        const symIdx = Number(relocs.readBigUInt64LE(o + 8) >> 32n), so = symIdx * 24;
        const name = symIdx && so + 24 <= syms.length ? cstr(strs, syms.readUInt32LE(so)) : '';
        if (name) names.set(relocs.readBigUInt64LE(o), name);
        if (rs.name === '.rela.plt') ordered.push(name);
      }
    }
    const out: ElfSymbol[] = [];
    const add = (sec: ElfSection, at: number, size: number, name: string) =>
      out.push({ name: `${name}@plt`, value: sec.addr + BigInt(at), size: BigInt(size), type: STT_FUNC, bind: STB_LOCAL, shndx: secs.indexOf(sec) });
    if (this.machine === 62) { // EM_X86_64
      for (const sec of secs) {
        if (!['.plt', '.plt.sec', '.plt.got'].includes(sec.name) || sec.type === SHT_NOBITS) continue;
        const data = this.sectionData(sec);
        const ent = sec.entsize >= 8 ? sec.entsize : 16;
        for (let o = 0; o + ent <= data.length; o += ent) {
          for (let k = o; k + 6 <= o + ent; k++) {
            if (data[k] !== 0xff || data[k + 1] !== 0x25) continue;
            const got = sec.addr + BigInt(k + 6 + data.readInt32LE(k + 2));
            const name = names.get(got);
            if (name) add(sec, o, ent, name);
            break;
          }
        }
      }
    } else if (this.machine === 183) { // EM_AARCH64
      const plt = secs.find(x => x.name === '.plt');
      if (plt) ordered.forEach((name, i) => { if (name && 32 + (i + 1) * 16 <= plt.size) add(plt, 32 + i * 16, 16, name); });
    }
    return out;
  }

  /** Preference among names at one address: global, typed, sized, fewest leading underscores, shortest. */
  private static rank(bind: number, type: number, size: number, name: string): number {
    let under = 0;
    while (name.charCodeAt(under) === 95) under++;
    return ((bind === STB_GLOBAL ? 8 : bind === STB_WEAK ? 4 : 0) + (type === STT_FUNC ? 2 : 0) + (size > 0 ? 1 : 0)) * 65536
      - under * 1024 - Math.min(name.length, 1023);
  }

  private sortedSymbols(): SortedSymbols {
    if (this.sorted) return this.sorted;
    // .dynsym repeats what a .symtab lists: with a .symtab, .dynsym only doubles the work
    const all = this.rawTables();
    const tables = all.some(t => !t.dynamic) ? all.map(t => (t.dynamic ? { ...t, count: 0 } : t)) : all;
    const plt = this.pltSymbols();
    let total = plt.length;
    for (const t of tables) total += t.count;
    const val = new Float64Array(total), size = new Float64Array(total);
    const table = new Int8Array(total), entry = new Uint32Array(total);
    const isExec = (shndx: number, tsecs: ElfSection[]) => { const x = tsecs[shndx]; return !!x && (x.flags & SHF_EXECINSTR) !== 0n; };
    let n = 0, maxVal = 0;
    tables.forEach((t, ti) => {
      const d = t.data;
      const dv = new DataView(d.buffer, d.byteOffset, d.length);
      for (let i = 1; i < t.count; i++) {
        const o = i * t.ent;
        const info = d[o + 4], type = info & 0xf, shndx = dv.getUint16(o + 6, true);
        if (shndx === SHN_UNDEF) continue;
        const v = dv.getUint32(o + 8, true) + dv.getUint32(o + 12, true) * TWO32;
        const sz = dv.getUint32(o + 16, true) + dv.getUint32(o + 20, true) * TWO32;
        const nameOff = dv.getUint32(o, true);
        if (v === 0 || nameOff === 0) continue;
        if (type !== STT_FUNC && type !== STT_GNU_IFUNC) {
          // hand-written assembly often leaves labels untyped (but not local labels ".L..", "$x")
          if (type !== STT_NOTYPE || sz === 0 || shndx >= 0xff00 || !isExec(shndx, t.secs)) continue;
          const c0 = t.strs[nameOff], c1 = t.strs[nameOff + 1];
          if (c0 === 36 /* $ */ || (c0 === 46 /* . */ && c1 === 76 /* L */)) continue;
        }
        val[n] = v;
        size[n] = sz;
        table[n] = ti;
        entry[n++] = i;
        if (v > maxVal) maxVal = v;
      }
    });
    plt.forEach((p, i) => {
      val[n] = Number(p.value);
      size[n] = Number(p.size);
      table[n] = -1;
      entry[n++] = i;
    });
    // sort by address: natively as packed (address * 2^k + index) doubles when that is exact
    const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
    let order: ArrayLike<number>;
    if ((maxVal + 1) * 2 ** bits < 2 ** 53) {
      const keys = new Float64Array(n);
      const scale = 2 ** bits;
      for (let i = 0; i < n; i++) keys[i] = val[i] * scale + i;
      keys.sort();
      const o = new Uint32Array(n);
      for (let i = 0; i < n; i++) o[i] = keys[i] % scale;
      order = o;
    } else {
      order = Array.from({ length: n }, (_, i) => i).sort((a, b) => val[a] - val[b] || a - b);
    }
    // one symbol per address: where several share it (aliases), the preferred name
    const rankOf = (i: number): number => {
      if (table[i] < 0) return ElfFile.rank(STB_LOCAL, STT_FUNC, size[i], plt[entry[i]].name);
      const t = tables[table[i]], o = entry[i] * t.ent, info = t.data[o + 4];
      const off = t.data.readUInt32LE(o), strs = t.strs; // underscores and length from the bytes: no string
      let under = 0;
      while (strs[off + under] === 95) under++;
      const end = strs.indexOf(0, off);
      let len = (end < 0 ? strs.length : end) - off;
      // a debug file's .symtab spells versions out ("clock_nanosleep@@GLIBC_2.17", "...@GLIBC_2.2.5"): ranked by
      // the plain name (printed without the version), the default version before a compat one
      let version = 0;
      const at = strs.indexOf(64 /* @ */, off);
      if (at >= 0 && at < off + len) {
        version = strs[at + 1] === 64 ? 256 : 512;
        len = at - off;
      }
      const bind = info >> 4, type = info & 0xf;
      return ((bind === STB_GLOBAL ? 8 : bind === STB_WEAK ? 4 : 0) + (type === STT_FUNC ? 2 : 0) + (size[i] > 0 ? 1 : 0)) * 65536
        - under * 1024 - version - Math.min(len, 255);
    };
    const keep = new Uint32Array(n);
    let m = 0;
    for (let k = 0; k < n;) {
      const v = val[order[k]];
      let j = k + 1;
      while (j < n && val[order[j]] === v) j++;
      let best = order[k];
      if (j - k > 1) {
        let bestRank = -Infinity;
        for (let q = k; q < j; q++) {
          const r = rankOf(order[q]);
          if (r > bestRank) {
            bestRank = r;
            best = order[q];
          }
        }
      }
      keep[m++] = best;
      k = j;
    }
    const out: SortedSymbols = {
      addrs: new Float64Array(m), ends: new Float64Array(m), table: new Int8Array(m), entry: new Uint32Array(m), plt,
    };
    keep.subarray(0, m).forEach((i, k) => {
      out.addrs[k] = val[i];
      out.table[k] = table[i];
      out.entry[k] = entry[i];
      if (size[i] > 0) {
        out.ends[k] = val[i] + size[i];
      } else { // no size: up to the end of its section
        const t = table[i] >= 0 ? tables[table[i]] : undefined;
        const shndx = t ? t.data.readUInt16LE(entry[i] * t.ent + 6) : -1;
        const sec = t && shndx < 0xff00 ? t.secs[shndx] : undefined;
        out.ends[k] = sec && sec.addr !== 0n ? Number(sec.addr) + sec.size : Infinity;
      }
    });
    return (this.sorted = out);
  }

  /** The function containing vaddr: within its size, or (size 0) before the next function. */
  symbolAt(vaddr: bigint): SymbolAt | undefined {
    const st = this.sortedSymbols();
    const addrs = st.addrs;
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
    if (best < 0 || a >= st.ends[best]) return undefined;
    const sym = st.table[best] < 0 ? st.plt[st.entry[best]] : this.rawSymbol(this.rawTables()[st.table[best]], st.entry[best]);
    if (vaddr < sym.value) return undefined; // above 2^53, Number rounding
    return { name: unversioned(sym.name), offset: Number(vaddr - sym.value), value: sym.value, size: sym.size };
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
