// BTF reader (kernel Documentation/bpf/btf.rst) and generated decoders/encoders: a struct type becomes
// a specialised JS function reading a DataView, so decoding an event costs a few hundred ns.
import fs from 'node:fs';

export type BtfKind = 'void' | 'int' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'typedef' | 'volatile'
  | 'const' | 'restrict' | 'func' | 'func_proto' | 'var' | 'datasec' | 'float' | 'decl_tag' | 'type_tag' | 'enum64';

const kinds: BtfKind[] = ['void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const',
  'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64'];

export interface BtfMember { name: string; type: number; bitOffset: number; bitSize: number }
export interface BtfType {
  id: number;
  kind: BtfKind;
  name: string;
  size?: number;
  type?: number;
  vlen?: number;
  kflag?: boolean;
  members?: BtfMember[];
  encoding?: { signed: boolean; char: boolean; bool: boolean; bits: number; offset: number };
  array?: { type: number; indexType: number; nelems: number };
  values?: { name: string; value: number | bigint }[];
  params?: { name: string; type: number }[];
  vars?: { type: number; offset: number; size: number }[];
  linkage?: number;
}

const MAGIC = 0xeb9f;
const utf8 = new TextDecoder();
// Decoding runs once per event: its builtins are module constants, since a global lookup costs
// ~0.5 µs inside a vm context (jest's test environment), 10-50 times the decoding of a field.
const { fromCharCode } = String;
const Bytes = Uint8Array;
const toBigInt = BigInt;
const toNumber = Number;

export class Btf {
  private readonly words: Uint32Array;
  private readonly dv: DataView;
  private readonly strings: Uint8Array;
  /** Byte offset (within the type section) of each own type, index = id - firstId. */
  private readonly offsets: Uint32Array;
  private readonly firstId: number;
  private readonly cache = new Map<number, BtfType>();
  private names?: Map<string, number[]>;
  private static vmlinuxBtf?: Btf;

  private constructor(raw: Uint8Array, readonly base?: Btf) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (raw.byteLength < 24 || dv.getUint16(0, true) !== MAGIC) {
      throw new Error(`not BTF data: bad magic 0x${raw.byteLength >= 2 ? dv.getUint16(0, true).toString(16) : '?'}`);
    }
    const hdrLen = dv.getUint32(4, true);
    const typeOff = dv.getUint32(8, true), typeLen = dv.getUint32(12, true);
    const strOff = dv.getUint32(16, true), strLen = dv.getUint32(20, true);
    let types = raw.subarray(hdrLen + typeOff, hdrLen + typeOff + typeLen);
    if (types.byteOffset & 3) types = types.slice(); // Uint32Array views need 4-byte alignment
    this.words = new Uint32Array(types.buffer, types.byteOffset, types.byteLength >>> 2);
    this.dv = new DataView(types.buffer, types.byteOffset, types.byteLength);
    this.strings = raw.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    this.firstId = base ? base.count : 1;
    // Index: walk records once (each record's length depends on its kind and vlen).
    const w = this.words;
    const offsets = new Uint32Array(Math.ceil(w.length / 3));
    let count = 0;
    for (let i = 0; i < w.length;) {
      offsets[count++] = i * 4;
      const info = w[i + 1];
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      i += 3;
      switch (kind) {
        case 1: case 14: case 17: i += 1; break;              // int, var, decl_tag
        case 3: i += 3; break;                                // array
        case 4: case 5: case 15: case 19: i += 3 * vlen; break; // struct, union, datasec, enum64
        case 6: case 13: i += 2 * vlen; break;                // enum, func_proto
        default: break;
      }
    }
    this.offsets = offsets.subarray(0, count);
  }

  static parse(raw: Uint8Array, base?: Btf): Btf {
    return new Btf(raw, base);
  }

  /** The running kernel's BTF, parsed once per process. */
  static vmlinux(): Btf {
    if (!Btf.vmlinuxBtf) Btf.vmlinuxBtf = new Btf(fs.readFileSync('/sys/kernel/btf/vmlinux'));
    return Btf.vmlinuxBtf;
  }

  /** Number of type ids, including void (0) and a base's types. */
  get count(): number {
    return this.firstId + this.offsets.length;
  }

  private str(off: number): string {
    if (this.base && off >= this.base.strings.length) off -= this.base.strings.length;
    else if (this.base) return this.base.str(off);
    let end = off;
    while (end < this.strings.length && this.strings[end] !== 0) end++;
    return utf8.decode(this.strings.subarray(off, end));
  }

  type(id: number): BtfType {
    if (id === 0) return { id: 0, kind: 'void', name: 'void', size: 0 };
    if (this.base && id < this.firstId) return this.base.type(id);
    const cached = this.cache.get(id);
    if (cached) return cached;
    const off = this.offsets[id - this.firstId];
    if (off === undefined) throw new Error(`BTF type id ${id} out of range (${this.count} types)`);
    const w = this.words, dv = this.dv;
    let i = off >>> 2;
    const name = this.str(w[i]);
    const info = w[i + 1];
    const kind = kinds[(info >>> 24) & 0x1f] ?? 'void';
    const vlen = info & 0xffff;
    const kflag = (info >>> 31) === 1;
    const sizeOrType = w[i + 2];
    i += 3;
    const t: BtfType = { id, kind, name, vlen, kflag };
    switch (kind) {
      case 'int': {
        const e = w[i];
        const enc = (e >>> 24) & 0xf;
        t.size = sizeOrType;
        t.encoding = { signed: !!(enc & 1), char: !!(enc & 2), bool: !!(enc & 4), offset: (e >>> 16) & 0xff, bits: e & 0xff };
        break;
      }
      case 'array':
        t.array = { type: w[i], indexType: w[i + 1], nelems: w[i + 2] };
        break;
      case 'struct': case 'union':
        t.size = sizeOrType;
        t.members = [];
        for (let m = 0; m < vlen; m++, i += 3) {
          const o = w[i + 2];
          t.members.push({ name: this.str(w[i]), type: w[i + 1], bitOffset: kflag ? o & 0xffffff : o, bitSize: kflag ? o >>> 24 : 0 });
        }
        break;
      case 'enum':
        t.size = sizeOrType;
        t.values = [];
        for (let m = 0; m < vlen; m++, i += 2) {
          t.values.push({ name: this.str(w[i]), value: kflag ? w[i + 1] : dv.getInt32((i + 1) * 4, true) });
        }
        break;
      case 'enum64':
        t.size = sizeOrType;
        t.values = [];
        for (let m = 0; m < vlen; m++, i += 3) t.values.push({ name: this.str(w[i]), value: (BigInt(w[i + 2]) << 32n) | BigInt(w[i + 1]) });
        break;
      case 'func_proto':
        t.type = sizeOrType;
        t.params = [];
        for (let m = 0; m < vlen; m++, i += 2) t.params.push({ name: this.str(w[i]), type: w[i + 1] });
        break;
      case 'var':
        t.type = sizeOrType;
        t.linkage = w[i];
        break;
      case 'datasec':
        t.size = sizeOrType;
        t.vars = [];
        for (let m = 0; m < vlen; m++, i += 3) t.vars.push({ type: w[i], offset: w[i + 1], size: w[i + 2] });
        break;
      case 'func':
        t.type = sizeOrType;
        t.linkage = vlen;
        break;
      case 'float':
        t.size = sizeOrType;
        break;
      default:
        t.type = sizeOrType;
    }
    this.cache.set(id, t);
    return t;
  }

  /** First type with this name (and kind, when given). */
  find(name: string, kind?: BtfKind): BtfType | undefined {
    // A few look-ups scan the raw names (vmlinux: ~5 ms each); many build the full index (~130 ms).
    if (!this.names && ++this.lookups <= 8) {
      for (const id of this.scan(name)) {
        const t = this.type(id);
        if (!kind || t.kind === kind) return t;
      }
      return this.base?.find(name, kind);
    }
    if (!this.names) {
      this.names = new Map();
      for (let k = 0; k < this.offsets.length; k++) {
        const nameOff = this.words[this.offsets[k] >>> 2];
        if (!nameOff) continue;
        const n = this.str(nameOff);
        const list = this.names.get(n);
        if (list) list.push(this.firstId + k);
        else this.names.set(n, [this.firstId + k]);
      }
    }
    for (const id of this.names.get(name) ?? []) {
      const t = this.type(id);
      if (!kind || t.kind === kind) return t;
    }
    return this.base?.find(name, kind);
  }

  private lookups = 0;

  /** Ids of own types named `name`, comparing bytes in the string section without decoding. */
  private *scan(name: string): Generator<number> {
    const want = new TextEncoder().encode(name);
    const strs = this.strings;
    const shift = this.base ? this.base.strings.length : 0;
    for (let k = 0; k < this.offsets.length; k++) {
      let off = this.words[this.offsets[k] >>> 2];
      if (!off || off < shift) continue;
      off -= shift;
      if (strs[off] !== want[0] || strs[off + want.length] !== 0) continue;
      let i = 1;
      while (i < want.length && strs[off + i] === want[i]) i++;
      if (i === want.length) yield this.firstId + k;
    }
  }

  /** Skips typedef/const/volatile/restrict/type_tag. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    while (['typedef', 'const', 'volatile', 'restrict', 'type_tag'].includes(t.kind)) t = this.type(t.type!);
    return t;
  }

  sizeof(id: number): number {
    const t = this.resolve(id);
    switch (t.kind) {
      case 'ptr': return 8;
      case 'array': return t.array!.nelems * this.sizeof(t.array!.type);
      case 'void': case 'func': case 'func_proto': case 'fwd': return 0;
      default: return t.size ?? 0;
    }
  }

  typeName(id: number): string {
    const t = this.type(id);
    switch (t.kind) {
      case 'void': return 'void';
      case 'ptr': return `${this.typeName(t.type!)} *`;
      case 'array': return `${this.typeName(t.array!.type)}[${t.array!.nelems}]`;
      case 'struct': case 'union': case 'enum': return `${t.kind} ${t.name || '(anon)'}`;
      case 'enum64': return `enum ${t.name || '(anon)'}`;
      case 'const': case 'volatile': case 'restrict': return `${t.kind} ${this.typeName(t.type!)}`;
      case 'func_proto': return 'function';
      default: return t.name || `(${t.kind})`;
    }
  }

  structHasField(structName: string, field: string): boolean {
    const t = this.find(structName, 'struct') ?? this.find(structName, 'union');
    if (!t) return false;
    const search = (s: BtfType): boolean => (s.members ?? []).some(m => {
      if (m.name === field) return true;
      if (m.name) return false;
      const r = this.resolve(m.type);
      return (r.kind === 'struct' || r.kind === 'union') && search(r);
    });
    return search(t);
  }
}

// ------------------------------------------------------------------ decoders and encoders

export interface DecodeOptions {
  /** 64-bit integers as bigint (exact, default) or number (lossy above 2^53). */
  int64?: 'bigint' | 'number';
  /** char arrays as strings cut at NUL (default) or byte copies. */
  charArrays?: 'string' | 'bytes';
  /** Top-level fields to keep as bytes even when they are char arrays (e.g. NUL-separated argv). */
  bytesFields?: string[];
}

export interface Decoder<T = any> {
  size: number;
  decode(dv: DataView, offset: number): T;
}

function isCharType(btf: Btf, id: number): boolean {
  // Only plain `char` arrays are text; u8/__u8/unsigned char buffers are numbers, as in BCC's ctypes.
  const t = btf.resolve(id);
  return t.kind === 'int' && t.size === 1 && t.name === 'char';
}

/**
 * One char-array field of a generated decoder: NUL-terminated UTF-8 text. TextDecoder costs ~350 ns
 * on a 16-byte comm, so the field remembers its last bytes and string (event streams repeat the same
 * comm or path: ~10 ns) and builds ASCII text itself (~40 ns); other text goes through TextDecoder.
 */
class CStringField {
  private readonly last: Uint8Array;
  private lastLength = -1;
  private lastText = '';

  constructor(private readonly size: number) {
    this.last = new Uint8Array(size);
  }

  read(dv: DataView, off: number): string {
    const { size, last } = this;
    let i = 0;
    const known = this.lastLength;
    while (i < known && dv.getUint8(off + i) === last[i]) i++;
    if (i === known && (i === size || dv.getUint8(off + i) === 0)) return this.lastText;
    let end = i;
    let ascii = true;
    for (let k = 0; k < i; k++) if (last[k] >= 0x80) ascii = false;
    for (; end < size; end++) {
      const c = dv.getUint8(off + end);
      if (c === 0) break;
      if (c >= 0x80) ascii = false;
      last[end] = c;
    }
    let text: string;
    if (ascii && end <= 64) {
      text = '';
      for (let k = 0; k < end; k++) text += fromCharCode(last[k]);
    } else {
      text = utf8.decode(new Bytes(dv.buffer, dv.byteOffset + off, end));
    }
    this.lastLength = end;
    this.lastText = text;
    return text;
  }
}

/** Decoding helpers reachable from generated code. */
const rt = {
  bytes(dv: DataView, off: number, len: number): Uint8Array {
    return new Bytes(dv.buffer, dv.byteOffset + off, len).slice();
  },
  bits(dv: DataView, off: number, bitOff: number, bitSize: number, signed: boolean): number {
    // read up to 8 bytes covering the field, little-endian
    const lo = toBigInt(dv.getUint32(off, true)) | (off + 8 <= dv.byteLength ? toBigInt(dv.getUint32(off + 4, true)) << 32n : 0n);
    let v = (lo >> toBigInt(bitOff)) & ((1n << toBigInt(bitSize)) - 1n);
    if (signed && v >> toBigInt(bitSize - 1)) v -= 1n << toBigInt(bitSize);
    return toNumber(v);
  },
};

/** Generates a JS expression reading type `id` at byte offset expression `off`; char-array fields are added to `strings`. */
function decodeExpr(btf: Btf, id: number, off: string, o: DecodeOptions, strings: CStringField[], fields?: string[], depth = 0): string {
  if (depth > 16) return 'undefined';
  const t = btf.resolve(id);
  switch (t.kind) {
    case 'int': {
      const s = t.encoding!.signed;
      if (t.encoding!.bool) return `(dv.getUint8(${off}) !== 0)`;
      switch (t.size) {
        case 1: return s ? `dv.getInt8(${off})` : `dv.getUint8(${off})`;
        case 2: return s ? `dv.getInt16(${off}, true)` : `dv.getUint16(${off}, true)`;
        case 4: return s ? `dv.getInt32(${off}, true)` : `dv.getUint32(${off}, true)`;
        case 8: {
          // as number: two 32-bit reads (one rounding, as Number(bigint)) cost half a BigInt
          if (o.int64 === 'number') return `(${s ? 'dv.getInt32' : 'dv.getUint32'}(${off} + 4, true) * 4294967296 + dv.getUint32(${off}, true))`;
          return s ? `dv.getBigInt64(${off}, true)` : `dv.getBigUint64(${off}, true)`;
        }
        default: return `rt.bytes(dv, ${off}, ${t.size})`;
      }
    }
    case 'enum': return t.size === 8 ? `dv.getBigInt64(${off}, true)` : t.size === 2 ? `dv.getInt16(${off}, true)` : t.size === 1 ? `dv.getInt8(${off})` : `dv.getInt32(${off}, true)`;
    case 'enum64': return `dv.getBigUint64(${off}, true)`;
    case 'ptr': return `dv.getBigUint64(${off}, true)`;
    case 'float': return t.size === 4 ? `dv.getFloat32(${off}, true)` : `dv.getFloat64(${off}, true)`;
    case 'array': {
      const { type: et, nelems } = t.array!;
      const esize = btf.sizeof(et);
      if (isCharType(btf, et)) {
        if (o.charArrays === 'bytes') return `rt.bytes(dv, ${off}, ${nelems})`;
        strings.push(new CStringField(nelems));
        return `s[${strings.length - 1}].read(dv, ${off})`;
      }
      const items: string[] = [];
      for (let k = 0; k < nelems && k < 4096; k++) items.push(decodeExpr(btf, et, `${off} + ${k * esize}`, o, strings, undefined, depth + 1));
      return `[${items.join(', ')}]`;
    }
    case 'struct': case 'union':
      return `({${memberExprs(btf, t, off, o, strings, fields, depth).map(([name, e]) => `${JSON.stringify(name)}: ${e}`).join(', ')}})`;
    default:
      return 'undefined';
  }
}

/** [name, expression] of each named member of a struct or union (members of anonymous ones inlined). */
function memberExprs(btf: Btf, t: BtfType, off: string, o: DecodeOptions, strings: CStringField[], fields?: string[], depth = 0): [string, string][] {
  const props: [string, string][] = [];
  const add = (s: BtfType, base: string) => {
    for (const m of s.members!) {
      const byteOff = `${base} + ${m.bitOffset >>> 3}`;
      const r = btf.resolve(m.type);
      if (!m.name && (r.kind === 'struct' || r.kind === 'union')) {
        add(r, byteOff);
        continue;
      }
      let e: string;
      if (m.bitSize || (r.kind === 'int' && r.encoding!.bits && r.encoding!.bits !== r.size! * 8)) {
        const bits = m.bitSize || r.encoding!.bits;
        const word = (m.bitOffset >>> 3) & ~3;
        const shift = m.bitOffset - word * 8;
        const signed = r.kind === 'int' && r.encoding!.signed;
        if (shift + bits <= 32) {
          // within one aligned 32-bit word: plain integer arithmetic (BigInt costs ~1 µs)
          const raw = `(dv.getUint32(${base} + ${word}, true) >>> ${shift})`;
          e = bits === 32 ? (signed ? `(${raw} | 0)` : `(${raw} >>> 0)`)
            : signed ? `((${raw} << ${32 - bits}) >> ${32 - bits})` : `(${raw} & ${2 ** bits - 1})`;
        } else {
          e = `rt.bits(dv, ${base} + ${word}, ${shift}, ${bits}, ${signed})`;
        }
      } else if (depth === 0 && fields?.includes(m.name) && r.kind === 'array') {
        e = `rt.bytes(dv, ${byteOff}, ${btf.sizeof(m.type)})`;
      } else {
        e = decodeExpr(btf, m.type, byteOff, o, strings, undefined, depth + 1);
      }
      props.push([m.name, e]);
    }
  };
  add(t, off);
  return props;
}

/** `(dv, off) => expr` compiled once, with the helpers and string fields it reads in its closure. */
function generated<T>(expr: string, strings: CStringField[]): (dv: DataView, off: number) => T {
  return new Function('rt', 's', `return (dv, off) => ${expr};`)(rt, strings);
}

export function makeDecoder<T = any>(btf: Btf, typeId: number, opts: DecodeOptions = {}): Decoder<T> {
  const strings: CStringField[] = [];
  const decode = generated<T>(decodeExpr(btf, typeId, 'off', opts, strings, opts.bytesFields), strings);
  return { size: btf.sizeof(typeId), decode };
}

/** A reader per field of a struct: `(dv, off) => value` with `off` the struct's start; no object per record. */
export type FieldReaders<T> = { [K in keyof T]: (dv: DataView, off: number) => T[K] };

export function makeFieldReaders<T = any>(btf: Btf, typeId: number, opts: DecodeOptions = {}): FieldReaders<T> {
  const t = btf.resolve(typeId);
  if (t.kind !== 'struct' && t.kind !== 'union') throw new Error(`field readers need a struct or union, not ${t.kind} ${t.name}`);
  const out: Record<string, (dv: DataView, off: number) => unknown> = {};
  const strings: CStringField[] = [];
  for (const [name, e] of memberExprs(btf, t, 'off', opts, strings, opts.bytesFields)) out[name] = generated(e, strings);
  return out as FieldReaders<T>;
}

type Encode = (v: any, dv: DataView, off: number) => void;

function encoderFor(btf: Btf, id: number, depth = 0): Encode {
  const t = btf.resolve(id);
  const size = btf.sizeof(id);
  switch (t.kind) {
    case 'int': case 'enum': case 'enum64': case 'ptr': {
      const signed = t.kind === 'int' ? t.encoding!.signed : t.kind === 'enum';
      if (t.kind === 'int' && t.encoding!.bool) return (v, dv, off) => dv.setUint8(off, v ? 1 : 0);
      switch (size) {
        case 1: return (v, dv, off) => dv.setUint8(off, Number(v) & 0xff);
        case 2: return (v, dv, off) => dv.setUint16(off, Number(v) & 0xffff, true);
        case 4: return (v, dv, off) => dv.setUint32(off, Number(v) >>> 0, true);
        case 8: return signed
          ? (v, dv, off) => dv.setBigInt64(off, BigInt.asIntN(64, BigInt(v ?? 0)), true)
          : (v, dv, off) => dv.setBigUint64(off, BigInt.asUintN(64, BigInt(v ?? 0)), true);
        default: return (v, dv, off) => new Uint8Array(dv.buffer, dv.byteOffset + off, size).set(v ?? []);
      }
    }
    case 'float': return size === 4 ? (v, dv, off) => dv.setFloat32(off, v, true) : (v, dv, off) => dv.setFloat64(off, v, true);
    case 'array': {
      const { type: et, nelems } = t.array!;
      const esize = btf.sizeof(et);
      if (isCharType(btf, et)) {
        return (v, dv, off) => {
          const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : Uint8Array.from(v ?? []);
          const dst = new Uint8Array(dv.buffer, dv.byteOffset + off, nelems);
          dst.fill(0);
          dst.set(bytes.subarray(0, typeof v === 'string' ? nelems - 1 : nelems));
        };
      }
      const enc = encoderFor(btf, et, depth + 1);
      return (v, dv, off) => {
        for (let k = 0; k < nelems; k++) if (v?.[k] !== undefined) enc(v[k], dv, off + k * esize);
      };
    }
    case 'struct': case 'union': {
      const parts: [string | null, number, Encode, BtfMember, BtfType][] = [];
      for (const m of t.members!) {
        const r = btf.resolve(m.type);
        parts.push([m.name || null, m.bitOffset >>> 3, encoderFor(btf, m.type, depth + 1), m, r]);
      }
      return (v, dv, off) => {
        if (v === undefined || v === null) return;
        for (const [name, moff, enc, m, r] of parts) {
          const val = name === null ? v : v[name];
          if (val === undefined) continue;
          const bits = m.bitSize || (r.kind === 'int' && r.encoding!.bits !== r.size! * 8 ? r.encoding!.bits : 0);
          if (bits) {
            const base = off + ((m.bitOffset >>> 3) & ~3);
            const shift = BigInt(m.bitOffset - ((m.bitOffset >>> 3) & ~3) * 8);
            const mask = ((1n << BigInt(bits)) - 1n) << shift;
            const old = BigInt(dv.getUint32(base, true)) | (base + 8 <= dv.byteLength ? BigInt(dv.getUint32(base + 4, true)) << 32n : 0n);
            const nv = (old & ~mask) | ((BigInt.asUintN(bits, BigInt(val)) << shift) & mask);
            dv.setUint32(base, Number(nv & 0xffffffffn), true);
            if (base + 8 <= dv.byteLength) dv.setUint32(base + 4, Number(nv >> 32n), true);
            continue;
          }
          enc(val, dv, off + moff);
        }
      };
    }
    default:
      return () => {};
  }
}

export function makeEncoder(btf: Btf, typeId: number): { size: number; encode(value: any, dv: DataView, offset: number): void } {
  return { size: btf.sizeof(typeId), encode: encoderFor(btf, typeId) };
}
