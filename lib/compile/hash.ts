// A 128-bit content hash for cache keys (MurmurHash3, x86 128-bit variant, 32-bit arithmetic): the
// compile cache is looked up at every tool start, and loading node:crypto for SHA-256 costs ~13 ms of
// CPU there. The keys only need to tell contents apart, not resist an adversary: whoever can write the
// cache directory can write its objects too.

const C1 = 0x239b961b, C2 = 0xab0e9789, C3 = 0x38b34ae5, C4 = 0xa1e38b93;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** MurmurHash3_x86_128 of the bytes, as 32 hex digits. */
export function murmur128(data: Uint8Array, seed = 0): string {
  let h1 = seed, h2 = seed, h3 = seed, h4 = seed;
  const n = data.length;
  const blocks = n >>> 4;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < blocks; i++) {
    const o = i * 16;
    let k1 = dv.getUint32(o, true), k2 = dv.getUint32(o + 4, true), k3 = dv.getUint32(o + 8, true), k4 = dv.getUint32(o + 12, true);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2); h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3); h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4); h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1); h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  // the last 0-15 bytes, little-endian, into four lanes
  const tail = blocks * 16;
  let k1 = 0, k2 = 0, k3 = 0, k4 = 0;
  for (let i = n - tail - 1; i >= 0; i--) {
    const b = data[tail + i]!;
    if (i >= 12) k4 = (k4 << 8) | b;
    else if (i >= 8) k3 = (k3 << 8) | b;
    else if (i >= 4) k2 = (k2 << 8) | b;
    else k1 = (k1 << 8) | b;
  }
  const rest = n - tail;
  if (rest > 12) { k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1); h4 ^= k4; }
  if (rest > 8) { k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4); h3 ^= k3; }
  if (rest > 4) { k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3); h2 ^= k2; }
  if (rest > 0) { k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2); h1 ^= k1; }
  h1 ^= n; h2 ^= n; h3 ^= n; h4 ^= n;
  h1 = (h1 + h2 + h3 + h4) | 0; h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  h1 = fmix(h1); h2 = fmix(h2); h3 = fmix(h3); h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0; h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  return [h1, h2, h3, h4].map(h => (h >>> 0).toString(16).padStart(8, '0')).join('');
}

/** A hash of several parts, each length-prefixed so that ("ab", "c") and ("a", "bc") differ. */
export function contentKey(...parts: (string | Uint8Array)[]): string {
  const chunks = parts.map(p => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p));
  const all = Buffer.allocUnsafe(chunks.reduce((a, c) => a + 4 + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    all.writeUInt32LE(c.length, o);
    all.set(c, o + 4);
    o += 4 + c.length;
  }
  return murmur128(all);
}
