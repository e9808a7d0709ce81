// Kernel symbols from /proc/kallsyms, parsed once per process.
//
// Cost: the kernel generates the ~5 MB file slowly (30-50 ms); the parse must not add much. So the
// parse works on the raw bytes in one pass, keeps names as (offset, length) into the buffer and
// decodes a name only when it is asked for. Addresses are kept as doubles of their low 48 bits (the
// top 16 bits of a kernel address are all ones), sorted by a native Float64Array sort of packed
// (address, index) keys; the per-line scan never searches past the end of its line.
import fs from 'node:fs';

export interface KernelSymbol { name: string; offset: number; module?: string }

const KALLSYMS = '/proc/kallsyms';
/** Beyond this distance from the nearest symbol an address is not resolved (gaps between regions). */
const MAX_OFFSET = 1 << 20;

const HEX = new Int8Array(256).fill(-16);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;

function isText(t: number): boolean {
  // t T w W (weak symbols here are functions: kallsyms lists only text unless CONFIG_KALLSYMS_ALL)
  const l = t | 0x20;
  return l === 0x74 || l === 0x77;
}

export class KernelSymbols {
  private static instance?: KernelSymbols;
  private static pending?: Promise<KernelSymbols>;

  /** Number of symbols. */
  readonly size: number;
  /** True when every address reads as 0 (kptr_restrict / no CAP_SYSLOG): nothing resolves. */
  readonly restricted: boolean;
  private readonly raw: Buffer;
  private readonly hi16: number;          // the common top 16 bits (0xffff)
  private readonly addrs: Float64Array;   // sorted low-48-bit addresses
  private readonly order: Uint32Array;    // sorted position -> file line index
  private readonly nameOff: Uint32Array;  // by file line index
  private readonly nameLen: Uint16Array;
  private readonly types: Uint8Array;
  private readonly mods: Uint16Array;     // 0 = vmlinux, else index into modNames
  private readonly modNames: string[];
  private readonly lineAddr: Float64Array; // by file line index
  private hash?: Int32Array;
  private textNames?: string[];

  private constructor(raw: Buffer) {
    this.raw = raw;
    const n = raw.length;
    const cap = Math.ceil(n / 20) + 1; // a line is at least 16+1+1+1+1+1 bytes
    const lineAddr = new Float64Array(cap);
    const nameOff = new Uint32Array(cap);
    const nameLen = new Uint16Array(cap);
    const types = new Uint8Array(cap);
    const mods = new Uint16Array(cap);
    const modNames: string[] = [''];
    const modIndex = new Map<string, number>();
    let lastModStart = -1, lastModLen = 0, lastMod = 0;
    let hi16 = -1, count = 0, nonzero = false, mixedHigh = false;

    let p = 0;
    while (p < n) {
      // "ffffffff81000000 T name\n" or "ffffffffc0201000 t name\t[module]\n"
      let nl = raw.indexOf(10, p);
      if (nl < 0) nl = n;
      if (nl - p < 20 || raw[p + 16] !== 32 || raw[p + 18] !== 32) { // not a 64-bit line (32-bit kernels are not supported)
        p = nl + 1;
        continue;
      }
      const h0 = HEX[raw[p]], h1 = HEX[raw[p + 1]], h2 = HEX[raw[p + 2]], h3 = HEX[raw[p + 3]];
      let g1 = 0, g2 = 0, bad = h0 | h1 | h2 | h3;
      for (let i = p + 4; i < p + 10; i++) { const d = HEX[raw[i]]; bad |= d; g1 = (g1 << 4) | d; }
      for (let i = p + 10; i < p + 16; i++) { const d = HEX[raw[i]]; bad |= d; g2 = (g2 << 4) | d; }
      if (bad < 0) {
        p = nl + 1;
        continue;
      }
      const hi = (h0 << 12) | (h1 << 8) | (h2 << 4) | h3;
      const lo = g1 * 16777216 + g2;
      const ns = p + 19;
      let e = nl, mod = 0;
      if (raw[nl - 1] === 93 /* ] */) {
        // a module column: find the tab backwards (module names are short)
        let t = nl - 2;
        while (t > ns && raw[t] !== 9) t--;
        if (raw[t] === 9 && raw[t + 1] === 91 /* [ */) {
          e = t;
          const ms = t + 2, ml = nl - 1 - ms;
          if (ml === lastModLen && lastModStart >= 0 && raw.compare(raw, ms, ms + ml, lastModStart, lastModStart + ml) === 0) {
            mod = lastMod;
          } else {
            const name = raw.toString('latin1', ms, ms + ml);
            mod = modIndex.get(name) ?? 0;
            if (!mod) {
              mod = modNames.length;
              modNames.push(name);
              modIndex.set(name, mod);
            }
            lastModStart = ms;
            lastModLen = ml;
            lastMod = mod;
          }
        }
      }
      if (hi16 < 0) hi16 = hi;
      else if (hi !== hi16) mixedHigh = true;
      if (lo !== 0) nonzero = true;
      lineAddr[count] = lo;
      nameOff[count] = ns;
      nameLen[count] = Math.min(e - ns, 0xffff);
      types[count] = raw[p + 17];
      mods[count] = mod;
      count++;
      p = nl + 1;
    }
    if (mixedHigh) throw new Error(`${KALLSYMS}: addresses outside one 48-bit kernel range are not supported`);
    this.size = count;
    this.restricted = count > 0 && !nonzero;
    this.hi16 = hi16 < 0 ? 0xffff : hi16;
    this.lineAddr = lineAddr.subarray(0, count);
    this.nameOff = nameOff.subarray(0, count);
    this.nameLen = nameLen.subarray(0, count);
    this.types = types.subarray(0, count);
    this.mods = mods.subarray(0, count);
    this.modNames = modNames;
    const { addrs, order } = sortAddresses(this.lineAddr);
    this.addrs = addrs;
    this.order = order;
  }

  /** Parses /proc/kallsyms once per process (the same instance afterwards). */
  static load(): KernelSymbols {
    if (!KernelSymbols.instance) KernelSymbols.instance = new KernelSymbols(readProcFile(KALLSYMS));
    return KernelSymbols.instance;
  }

  /**
   * Reads /proc/kallsyms off the main thread, so the slow read overlaps other start-up work
   * (compiling, loading); resolves to the same cached instance load() returns.
   */
  static loadAsync(): Promise<KernelSymbols> {
    if (KernelSymbols.instance) return Promise.resolve(KernelSymbols.instance);
    KernelSymbols.pending ??= fs.promises.readFile(KALLSYMS).then(buf => {
      KernelSymbols.instance ??= new KernelSymbols(buf);
      KernelSymbols.pending = undefined;
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

  /** A table from kallsyms-format text (tests, saved snapshots). */
  static fromText(text: string | Buffer): KernelSymbols {
    return new KernelSymbols(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  }

  private nameAt(line: number): string {
    const o = this.nameOff[line];
    return this.raw.toString('latin1', o, o + this.nameLen[line]);
  }

  private fullAddress(low48: number): bigint {
    return (BigInt(this.hi16) << 48n) | BigInt(low48);
  }

  /** The symbol at or before addr: "schedule+0x4" is { name: 'schedule', offset: 4, module: 'kernel' }. */
  resolve(addr: bigint): KernelSymbol | undefined {
    if (this.restricted || Number(addr >> 48n) !== this.hi16) return undefined;
    const a = Number(addr & 0xffffffffffffn);
    const addrs = this.addrs;
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
    if (best < 0) return undefined;
    const base = addrs[best];
    if (a - base >= MAX_OFFSET) return undefined;
    // Several names at one address (aliases, section markers): prefer a global text symbol
    // with the fewest leading underscores.
    let pick = this.order[best], score = this.score(pick);
    for (let i = best - 1; i >= 0 && addrs[i] === base; i--) {
      const line = this.order[i], s = this.score(line);
      if (s > score) {
        pick = line;
        score = s;
      }
    }
    const m = this.mods[pick];
    return { name: this.nameAt(pick), offset: a - base, module: m ? this.modNames[m] : 'kernel' };
  }

  private score(line: number): number {
    const t = this.types[line];
    let s = t === 0x54 /* T */ ? 40 : t === 0x74 /* t */ ? 30 : isText(t) ? 20 : 0;
    let o = this.nameOff[line];
    const end = o + this.nameLen[line];
    while (o < end && this.raw[o] === 95 /* _ */) {
      s--;
      o++;
    }
    return s;
  }

  /** The address of a symbol (BCC's ksymname); the first one in kallsyms order when a name repeats. */
  address(name: string): bigint | undefined {
    if (this.restricted || !name) return undefined;
    const line = this.findLine(name);
    return line < 0 ? undefined : this.fullAddress(this.lineAddr[line]);
  }

  /**
   * Name -> first line, through an open-addressing hash table over the raw name bytes (FNV-1a),
   * built on first use in a few ms without creating a string per symbol.
   */
  private findLine(name: string): number {
    const raw = this.raw, off = this.nameOff, len = this.nameLen;
    if (!this.hash) {
      let size = 1;
      while (size < this.size * 2) size <<= 1;
      const table = new Int32Array(size).fill(-1);
      const mask = size - 1;
      for (let i = 0; i < this.size; i++) {
        const o = off[i], l = len[i];
        let h = 0x811c9dc5;
        for (let k = o; k < o + l; k++) h = Math.imul(h ^ raw[k], 0x01000193);
        let slot = h & mask;
        for (;;) {
          const cur = table[slot];
          if (cur < 0) {
            table[slot] = i;
            break;
          }
          if (len[cur] === l && raw.compare(raw, o, o + l, off[cur], off[cur] + l) === 0) break; // keep the first
          slot = (slot + 1) & mask;
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
      if (len[cur] === want.length && want.compare(raw, off[cur], off[cur] + want.length) === 0) return cur;
    }
  }

  has(name: string): boolean {
    return this.address(name) !== undefined;
  }

  /** Function names (text symbols: t, T, w, W) matching re, each once, in kallsyms order. */
  match(re: RegExp): string[] {
    if (!this.textNames) {
      const seen = new Set<string>();
      const text = this.raw.toString('latin1'); // one decode, then cheap slices
      for (let i = 0; i < this.size; i++) {
        if (isText(this.types[i])) seen.add(text.slice(this.nameOff[i], this.nameOff[i] + this.nameLen[i]));
      }
      this.textNames = [...seen];
    }
    const r = re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
    return this.textNames.filter(n => r.test(n));
  }

  /** Every symbol of one module ('kernel' for vmlinux), e.g. for listing a module's functions. */
  moduleSymbols(module: string): { name: string; address: bigint; type: string }[] {
    const want = module === 'kernel' ? 0 : this.modNames.indexOf(module);
    if (want < 0) return [];
    const out: { name: string; address: bigint; type: string }[] = [];
    for (let i = 0; i < this.size; i++) {
      if (this.mods[i] === want) out.push({ name: this.nameAt(i), address: this.fullAddress(this.lineAddr[i]), type: String.fromCharCode(this.types[i]) });
    }
    return out;
  }

  /** Module names seen in the "[mod]" column (bpf programs show up as 'bpf'). */
  modules(): string[] {
    return this.modNames.slice(1);
  }
}

/**
 * Reads a file whose size procfs reports as 0 into one growing buffer. (readFileSync allocates a
 * fresh 64 KiB chunk for each read, and a seq_file read returns at most a page: ~1300 chunks here.)
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

/**
 * Sorts addresses (in file order) and returns them with the permutation. kallsyms is sorted for
 * vmlinux; modules and BPF programs follow in any order. The sorted prefix is kept, the rest is
 * sorted natively as packed (address - min) * 2^k + index doubles, and the two runs are merged.
 */
function sortAddresses(lineAddr: Float64Array): { addrs: Float64Array; order: Uint32Array } {
  const n = lineAddr.length;
  let prefix = 1;
  while (prefix < n && lineAddr[prefix] >= lineAddr[prefix - 1]) prefix++;
  if (prefix >= n) {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return { addrs: lineAddr, order };
  }
  const m = n - prefix;
  const tailOrder = new Uint32Array(m);
  let min = Infinity, max = -Infinity;
  for (let i = prefix; i < n; i++) {
    const a = lineAddr[i];
    if (a < min) min = a;
    if (a > max) max = a;
  }
  const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const scale = 2 ** bits;
  if ((max - min + 1) * scale < 2 ** 53) {
    const keys = new Float64Array(m);
    for (let i = 0; i < m; i++) keys[i] = (lineAddr[prefix + i] - min) * scale + (prefix + i);
    keys.sort();
    for (let i = 0; i < m; i++) tailOrder[i] = keys[i] % scale;
  } else {
    const idx = Array.from({ length: m }, (_, i) => prefix + i);
    idx.sort((x, y) => lineAddr[x] - lineAddr[y] || x - y);
    for (let i = 0; i < m; i++) tailOrder[i] = idx[i];
  }
  // merge [0, prefix) with the sorted tail; ties keep file order (the prefix first)
  const addrs = new Float64Array(n);
  const order = new Uint32Array(n);
  let i = 0, j = 0, k = 0;
  while (i < prefix && j < m) {
    if (lineAddr[i] <= lineAddr[tailOrder[j]]) {
      order[k] = i;
      addrs[k++] = lineAddr[i++];
    } else {
      order[k] = tailOrder[j];
      addrs[k++] = lineAddr[tailOrder[j++]];
    }
  }
  while (i < prefix) {
    order[k] = i;
    addrs[k++] = lineAddr[i++];
  }
  while (j < m) {
    order[k] = tailOrder[j];
    addrs[k++] = lineAddr[tailOrder[j++]];
  }
  return { addrs, order };
}

export const _test = { sortAddresses };
