// JSON that copes with what BPF data decodes to: bigint (u64 counters, addresses), byte arrays,
// Maps and Sets.

const TWO_53 = 2n ** 53n;

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/** bigint -> number when |v| <= 2^53 (exact), else its decimal string. */
export function bigintToJson(v: bigint): number | string {
  return v <= TWO_53 && v >= -TWO_53 ? Number(v) : v.toString();
}

function replacer(this: any, key: string, value: unknown): unknown {
  // `value` has already been through toJSON (Buffer -> {type,data}); look at the original.
  const orig = this[key];
  if (typeof orig === 'bigint') return bigintToJson(orig);
  if (orig instanceof Uint8Array) return hex(orig);
  if (orig instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of orig) o[typeof k === 'string' ? k : String(k)] = v;
    return o;
  }
  if (orig instanceof Set) return [...orig];
  return value;
}

/**
 * JSON.stringify that handles bigint (number when |v| <= 2^53, else a string), Uint8Array/Buffer
 * (lower-case hex), Map (object) and Set (array). `indent` as in JSON.stringify.
 */
export function toJson(value: unknown, indent?: number | string): string {
  const s = JSON.stringify(value, replacer, indent);
  // JSON.stringify(undefined) is undefined; keep the return type a string.
  return s === undefined ? 'null' : s;
}
