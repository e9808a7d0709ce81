// Kernel symbols from /proc/kallsyms, read once per process.
//
// The kernel generates the ~5 MB file slowly (30-50 ms, one page per read call), so whatever the
// parse adds must be small. kallsyms lists vmlinux's symbols first, sorted by address (the build's
// scripts/kallsyms sorts them), then modules, ftrace trampolines and BPF programs, each line with a
// "\t[module]" column, in no particular order. So load() does not touch the vmlinux part at all:
// resolve() binary-searches the raw bytes (find a line start, parse 16 hex digits), and only the
// short module tail is parsed and sorted up front. Names are decoded when asked for. Name -> address
// uses a byte search for a few lookups and builds a hash index over the raw bytes after that.
import fs from 'node:fs';

export interface KernelSymbol { name: string; offset: number; module?: string }

const KALLSYMS = '/proc/kallsyms';
/** Beyond this distance from the nearest symbol an address is not resolved (gaps between regions). */
const MAX_OFFSET = 1 << 20;
/** Lookups by name answered by a byte search before a hash index is built. */
const SEARCHES_BEFORE_INDEX = 8;
/** Address lookups answered by searching the raw text before an address index is built. */
const RESOLVES_BEFORE_INDEX = 2000;

const HEX = new Int8Array(256).fill(-16);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;

function isText(t: number): boolean {
  // t T w W (weak symbols listed by kallsyms are functions unless CONFIG_KALLSYMS_ALL)
  const l = t | 0x20;
  return l === 0x74 || l === 0x77;
}

/** Line index over the whole file, built only for name lookups and match(). */
interface LineIndex { start: Uint32Array; nameLen: Uint16Array; count: number }

export class KernelSymbols {
  private static instance?: KernelSymbols;
  private static pending?: Promise<KernelSymbols>;

  /** True when addresses read as 0 (kptr_restrict, no CAP_SYSLOG): nothing resolves. */
  readonly restricted: boolean;
  private readonly raw: Buffer;
  private readonly hi16: number;       // the top 16 bits every kernel address shares (0xffff)
  private readonly coreEnd: number;    // byte offset where the "[module]" lines begin
  // the module tail, sorted by address
  private readonly tailAddr: Float64Array;
  private readonly tailLine: Uint32Array; // line start offsets
  private readonly tailMod: Uint16Array;
  private readonly modNames: string[] = [''];
  private index?: LineIndex;
  private hash?: Int32Array;
  private searches = 0;
  private resolves = 0;
  private core?: { addrs: Float64Array; start: Uint32Array };
  private textNames?: string[];
  private readonly memo = new Map<bigint, KernelSymbol | undefined>();

  private constructor(raw: Buffer) {
    this.raw = raw;
    const n = raw.length;
    // A 64-bit kallsyms line: 16 hex digits, ' ', type, ' ', name ['\t[module]'] '\n'.
    if (n > 0 && (n < 20 || raw[16] !== 32 || raw[18] !== 32)) throw new Error(`${KALLSYMS}: unexpected format (only 64-bit kernels are supported)`);
    const firstMod = raw.indexOf(']\n', 0, 'latin1');
    this.coreEnd = firstMod < 0 ? n : this.lineStart(firstMod);
    // the top bits from vmlinux's last (highest) line: kernels before ~6.15 list the per-CPU symbols
    // first, at 0000000000000000, 0000000000001000, ... (fixed_percpu_data), which are not kernel addresses
    const last = this.lineStart(Math.max(0, Math.min(this.coreEnd, n) - 2));
    this.hi16 = n > 0 ? (HEX[raw[last]] << 12) | (HEX[raw[last + 1]] << 8) | (HEX[raw[last + 2]] << 4) | HEX[raw[last + 3]] : 0xffff;
    this.restricted = n === 0 || (this.lineAddr(last) === 0 && this.hi16 === 0);

    // parse and sort the tail
    const starts: number[] = [], addrs: number[] = [], mods: number[] = [];
    const modIndex = new Map<string, number>();
    let lastModStart = -1, lastModLen = 0, lastMod = 0;
    for (let p = this.coreEnd; p < n;) {
      let nl = raw.indexOf(10, p);
      if (nl < 0) nl = n;
      if (nl - p >= 20 && raw[p + 16] === 32) {
        let mod = 0;
        if (raw[nl - 1] === 93 /* ] */) {
          let t = nl - 2;
          while (t > p + 19 && raw[t] !== 9) t--;
          if (raw[t] === 9) {
            const ms = t + 2, ml = nl - 1 - ms;
            if (ml === lastModLen && lastModStart >= 0 && raw.compare(raw, ms, ms + ml, lastModStart, lastModStart + ml) === 0) {
              mod = lastMod;
            } else {
              const name = raw.toString('latin1', ms, ms + ml);
              mod = modIndex.get(name) ?? 0;
              if (!mod) {
                mod = this.modNames.length;
                this.modNames.push(name);
                modIndex.set(name, mod);
              }
              lastModStart = ms;
              lastModLen = ml;
              lastMod = mod;
            }
          }
        }
        starts.push(p);
        addrs.push(this.lineAddr(p));
        mods.push(mod);
      }
      p = nl + 1;
    }
    const order = Array.from(starts.keys()).sort((a, b) => addrs[a] - addrs[b] || a - b);
    this.tailAddr = Float64Array.from(order, i => addrs[i]);
    this.tailLine = Uint32Array.from(order, i => starts[i]);
    this.tailMod = Uint16Array.from(order, i => mods[i]);
  }

  /** Reads /proc/kallsyms once per process (the same instance afterwards). */
  static load(): KernelSymbols {
    KernelSymbols.instance ??= new KernelSymbols(readProcFile(KALLSYMS));
    return KernelSymbols.instance;
  }

  /**
   * Reads /proc/kallsyms on libuv's thread pool, so the slow read overlaps other start-up work
   * (compiling, loading BPF); resolves to the instance load() returns.
   */
  static loadAsync(): Promise<KernelSymbols> {
    if (KernelSymbols.instance) return Promise.resolve(KernelSymbols.instance);
    KernelSymbols.pending ??= fs.promises.readFile(KALLSYMS).then(buf => {
      KernelSymbols.pending = undefined;
      KernelSymbols.instance ??= new KernelSymbols(buf);
      return KernelSymbols.instance;
    }, err => {
      KernelSymbols.pending = undefined;
      throw err;
    });
    return KernelSymbols.pending;
  }

  /** Forgets the cached instance (modules or BPF programs loaded since); the next load() re-reads. */
  static reset(): void {
    KernelSymbols.instance = undefined;
  }

  /** A table from text in kallsyms format (tests, saved snapshots). */
  static fromText(text: string | Buffer): KernelSymbols {
    return new KernelSymbols(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  }

  // ---------------------------------------------------------------- raw line access

  private lineStart(pos: number): number {
    const raw = this.raw;
    while (pos > 0 && raw[pos - 1] !== 10) pos--;
    return pos;
  }

  private nextLine(pos: number): number {
    const nl = this.raw.indexOf(10, pos);
    return nl < 0 ? this.raw.length : nl + 1;
  }

  /** The low 48 bits of the address on the line starting at p. */
  private lineAddr(p: number): number {
    const raw = this.raw;
    let g1 = 0, g2 = 0;
    for (let i = p + 4; i < p + 10; i++) g1 = (g1 << 4) | HEX[raw[i]];
    for (let i = p + 10; i < p + 16; i++) g2 = (g2 << 4) | HEX[raw[i]];
    return (g1 < 0 || g2 < 0) ? NaN : g1 * 16777216 + g2;
  }

  /** [start, end) of the name on the line starting at p. */
  private nameEnd(p: number): number {
    const raw = this.raw, n = raw.length;
    let e = p + 19;
    while (e < n) {
      const c = raw[e];
      if (c === 10 || c === 9) break;
      e++;
    }
    return e;
  }

  private nameOf(p: number): string {
    return this.raw.toString('latin1', p + 19, this.nameEnd(p));
  }

  private fullAddress(low48: number): bigint {
    return (BigInt(this.hi16) << 48n) | BigInt(low48);
  }

  /** Preference among names at one address: T > t > w/W > data; fewer leading underscores. */
  private score(p: number): number {
    const t = this.raw[p + 17];
    let s = t === 0x54 /* T */ ? 40 : t === 0x74 /* t */ ? 30 : isText(t) ? 20 : 0;
    for (let o = p + 19; this.raw[o] === 95 /* _ */; o++) s--;
    return s;
  }

  // ---------------------------------------------------------------- lookups

  /** The symbol at or before addr: schedule+4 is { name: 'schedule', offset: 4, module: 'kernel' } ('kernel' = vmlinux). */
  resolve(addr: bigint): KernelSymbol | undefined {
    if (this.restricted || Number(addr >> 48n) !== this.hi16) return undefined;
    if (this.memo.has(addr)) return this.memo.get(addr);
    const r = this.lookupAddr(Number(addr & 0xffffffffffffn));
    if (this.memo.size > 100_000) this.memo.clear();
    this.memo.set(addr, r);
    return r;
  }

  /** vmlinux part: the start of the last line whose address is <= a (-1: none), and that address. */
  private coreLookup(a: number): [number, number] {
    const core = this.core;
    if (core) {
      const addrs = core.addrs;
      let lo = 0, hi = addrs.length - 1, best = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (addrs[mid] <= a) {
          best = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return best < 0 ? [-1, -1] : [core.start[best], addrs[best]];
    }
    // no index yet: binary search over byte positions of the raw, sorted text
    let lo = 0, hi = this.coreEnd, best = -1, bestAddr = -1;
    while (lo < hi) {
      const mid = this.lineStart((lo + hi) >>> 1);
      const v = this.lineAddr(mid);
      if (v <= a) {
        best = mid;
        bestAddr = v;
        lo = this.nextLine(mid);
      } else {
        hi = mid;
      }
    }
    return [best, bestAddr];
  }

  /** After many lookups (stack-heavy tools), an index of vmlinux's line addresses makes each one cheap. */
  private buildCoreIndex(): void {
    const { start, count } = this.lines();
    let n = 0;
    while (n < count && start[n] < this.coreEnd) n++;
    const addrs = new Float64Array(n);
    for (let i = 0; i < n; i++) addrs[i] = this.lineAddr(start[i]);
    this.core = { addrs, start: start.subarray(0, n) };
  }

  private lookupAddr(a: number): KernelSymbol | undefined {
    if (!this.core && ++this.resolves > RESOLVES_BEFORE_INDEX) this.buildCoreIndex();
    const [best, bestAddr] = this.coreLookup(a);
    // the module tail
    const ta = this.tailAddr;
    let tl = 0, th = ta.length - 1, tbest = -1;
    while (tl <= th) {
      const mid = (tl + th) >>> 1;
      if (ta[mid] <= a) {
        tbest = mid;
        tl = mid + 1;
      } else {
        th = mid - 1;
      }
    }
    if (tbest >= 0 && ta[tbest] > bestAddr) {
      const base = ta[tbest];
      if (a - base >= MAX_OFFSET) return undefined;
      let pick = tbest, score = this.score(this.tailLine[tbest]);
      for (let i = tbest - 1; i >= 0 && ta[i] === base; i--) {
        const s = this.score(this.tailLine[i]);
        if (s > score) {
          pick = i;
          score = s;
        }
      }
      return { name: this.nameOf(this.tailLine[pick]), offset: a - base, module: this.modNames[this.tailMod[pick]] };
    }
    if (best < 0 || a - bestAddr >= MAX_OFFSET) return undefined;
    // several names at one address (aliases, section markers): walk back over them
    let pick = best, score = this.score(best);
    for (let p = best; p > 0;) {
      p = this.lineStart(p - 1);
      if (this.lineAddr(p) !== bestAddr) break;
      const s = this.score(p);
      if (s > score) {
        pick = p;
        score = s;
      }
    }
    return { name: this.nameOf(pick), offset: a - bestAddr, module: 'kernel' };
  }

  /** The address of a symbol (BCC's ksymname); the first in kallsyms order when a name repeats. */
  address(name: string): bigint | undefined {
    if (this.restricted || !name || /[\s]/.test(name)) return undefined;
    let p: number;
    if (!this.hash && ++this.searches <= SEARCHES_BEFORE_INDEX) {
      // " name\n" or " name\t" can only be a whole name: names hold no spaces
      p = -1;
      for (const end of ['\n', '\t']) {
        const at = this.raw.indexOf(` ${name}${end}`, 0, 'latin1');
        if (at >= 18 && (p < 0 || at - 18 < p)) p = at - 18;
      }
    } else {
      p = this.findLine(name);
    }
    if (p < 0) return undefined;
    const v = this.lineAddr(p);
    return Number.isNaN(v) ? undefined : this.fullAddress(v);
  }

  has(name: string): boolean {
    return this.address(name) !== undefined;
  }

  private lines(): LineIndex {
    if (this.index) return this.index;
    const raw = this.raw, n = raw.length;
    const cap = Math.ceil(n / 20) + 1;
    const start = new Uint32Array(cap), nameLen = new Uint16Array(cap);
    let count = 0;
    for (let p = 0; p < n;) {
      let e = p + 19;
      while (e < n) {
        const c = raw[e];
        if (c === 10 || c === 9) break;
        e++;
      }
      if (e - p > 19) {
        start[count] = p;
        nameLen[count++] = Math.min(e - p - 19, 0xffff);
      }
      if (e < n && raw[e] === 9) {
        const nl = raw.indexOf(10, e);
        e = nl < 0 ? n : nl;
      }
      p = e + 1;
    }
    return (this.index = { start: start.subarray(0, count), nameLen: nameLen.subarray(0, count), count });
  }

  /**
   * Name -> line start through an open-addressing hash table (FNV-1a over the raw name bytes),
   * built on first use without creating a string per symbol; the first line of a repeated name wins.
   */
  private findLine(name: string): number {
    const raw = this.raw;
    const { start, nameLen, count } = this.lines();
    if (!this.hash) {
      let size = 1;
      while (size < count * 2) size <<= 1;
      const table = new Int32Array(size).fill(-1);
      const mask = size - 1;
      for (let i = 0; i < count; i++) {
        const o = start[i] + 19, l = nameLen[i];
        let h = 0x811c9dc5;
        for (let k = o; k < o + l; k++) h = Math.imul(h ^ raw[k], 0x01000193);
        for (let slot = h & mask; ; slot = (slot + 1) & mask) {
          const cur = table[slot];
          if (cur < 0) {
            table[slot] = i;
            break;
          }
          if (nameLen[cur] === l && raw.compare(raw, o, o + l, start[cur] + 19, start[cur] + 19 + l) === 0) break;
        }
      }
      this.hash = table;
    }
    const want = Buffer.from(name, 'latin1');
    let h = 0x811c9dc5;
    for (let k = 0; k < want.length; k++) h = Math.imul(h ^ want[k], 0x01000193);
    const table = this.hash, mask = table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const cur = table[slot];
      if (cur < 0) return -1;
      const o = start[cur] + 19;
      if (nameLen[cur] === want.length && want.compare(raw, o, o + want.length) === 0) return start[cur];
    }
  }

  /** Function names (text symbols: t, T, w, W) matching re, each once, in kallsyms order. */
  match(re: RegExp): string[] {
    if (!this.textNames) {
      const { start, nameLen, count } = this.lines();
      const names: string[] = [];
      const text = this.raw.toString('latin1'); // one decode, then slices: far cheaper than a decode per name
      for (let i = 0; i < count; i++) {
        const p = start[i];
        if (isText(this.raw[p + 17])) names.push(text.slice(p + 19, p + 19 + nameLen[i]));
      }
      this.textNames = names;
    }
    const r = re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
    const out: string[] = [];
    const seen = new Set<string>();
    for (const n of this.textNames) {
      if (r.test(n) && !seen.has(n)) {
        seen.add(n);
        out.push(n);
      }
    }
    return out;
  }

  /** Number of symbols (counts the lines: the first call scans the file). */
  get size(): number {
    return this.lines().count;
  }

  /** Module names from the "[mod]" column (BPF programs show up as 'bpf'). */
  modules(): string[] {
    return this.modNames.slice(1);
  }

  /** Every symbol of one module ('kernel' for vmlinux). */
  moduleSymbols(module: string): { name: string; address: bigint; type: string }[] {
    const out: { name: string; address: bigint; type: string }[] = [];
    const push = (p: number) => out.push({ name: this.nameOf(p), address: this.fullAddress(this.lineAddr(p)), type: String.fromCharCode(this.raw[p + 17]) });
    if (module === 'kernel') {
      for (let p = 0; p < this.coreEnd; p = this.nextLine(p)) push(p);
    } else {
      const want = this.modNames.indexOf(module);
      if (want > 0) for (let i = 0; i < this.tailLine.length; i++) if (this.tailMod[i] === want) push(this.tailLine[i]);
    }
    return out;
  }
}

/**
 * Reads a file whose size procfs reports as 0 into one growing buffer. (readFileSync allocates a
 * fresh 64 KiB chunk per read call, and a seq_file read returns at most a page: ~1300 chunks here.)
 */
function readProcFile(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  let buf = Buffer.allocUnsafe(8 << 20), len = 0;
  try {
    for (;;) {
      if (buf.length - len < 65536) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, len, buf.length - len, null);
      if (n <= 0) break;
      len += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buf.subarray(0, len);
}
