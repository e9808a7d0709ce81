// The cache-key hash: MurmurHash3 x86_128, checked against values from an independent implementation
// (npm's murmurhash3js-revisited, x86.hash128), and contentKey's part boundaries.
import { contentKey, murmur128 } from '../../lib/compile/hash.js';

const vectors: [string, number, string][] = [
  ['', 0, '00000000000000000000000000000000'],
  ['', 7, '0d45d85efb848988fb848988fb848988'],
  ['a', 0, 'a794933c5556b01b5556b01b5556b01b'],
  ['hello', 0, '2b2444a0db91def79adb31b69adb31b6'],
  ['hello', 7, '6ed9b07b83ac19be1590842b1590842b'],
  ['The quick brown fox jumps over the lazy dog', 0, '2f1583c3ecee2c675d7bf66ce5e91d2c'],
  ['The quick brown fox jumps over the lazy dog', 7, '461c020febefeaf9c2cfe8e558927875'],
  ['x'.repeat(33), 0, 'aebb6f144dad0a9efe5e01d83723d4d6'],
  ['x'.repeat(33), 7, 'b14c6eb60c0bb30027681b6d098a1ab7'],
];

test.each(vectors)('murmur128(%j, seed %d)', (text, seed, hex) => {
  expect(murmur128(Buffer.from(text), seed)).toBe(hex);
});

test('every tail length (0-15 bytes past a block) hashes differently; parts keep their boundaries', () => {
  const seen = new Set<string>();
  for (let n = 0; n <= 48; n++) seen.add(murmur128(Buffer.alloc(n, 0x61)));
  expect(seen.size).toBe(49);
  expect(contentKey('ab', 'c')).not.toBe(contentKey('a', 'bc'));
  expect(contentKey('a', 'b')).toBe(contentKey(Buffer.from('a'), 'b'));
});
