// BTF: the kernel's own types, and a small object's types decoded/encoded by generated code.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Btf, makeDecoder, makeEncoder } from '../../lib/btf/index.js';
import { ElfFile } from '../../lib/syms/index.js';
import { includeDir } from '../../lib/compile/index.js';

test('the kernel BTF: task_struct and its fields, sizes, names', () => {
  const btf = Btf.vmlinux();
  const task = btf.find('task_struct', 'struct')!;
  expect(task.kind).toBe('struct');
  const pid = task.members!.find(m => m.name === 'pid')!;
  expect(btf.typeName(pid.type)).toBe('pid_t');
  expect(btf.sizeof(pid.type)).toBe(4);
  expect(btf.structHasField('task_struct', '__state')).toBe(true);
  expect(btf.structHasField('task_struct', 'no_such_field')).toBe(false);
  expect(btf.sizeof(btf.find('u64')!.id)).toBe(8);
  expect(btf.find('vfs_read', 'func')?.kind).toBe('func');
  expect(btf.find('btf_trace_sched_switch')?.kind).toBe('typedef');
});

test('bad data is refused with a clear message', () => {
  expect(() => Btf.parse(new Uint8Array(32))).toThrow('not BTF data: bad magic 0x0');
});

const source = `#include "vmlinux.h"
enum bk_color { BK_RED = 1, BK_GREEN = 7 };
struct bk_inner { u16 a; s8 b; };
union bk_either { u32 word; u8 bytes[4]; };
struct bk_sample {
	u8 small; u16 mid; s32 neg; u64 big; char comm[16];
	struct bk_inner in; u32 arr[3];
	unsigned int flag_a : 1, level : 3, rest : 12;
	union bk_either u; enum bk_color c; bool ok; void *ptr; s64 sbig;
};
struct bk_sample sample_var;
`;

let btf: Btf;
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-btf-'));
  fs.writeFileSync(path.join(dir, 'x.c'), source);
  const r = spawnSync('clang', ['-g', '-O2', '-target', 'bpf', '-I', includeDir, '-c', path.join(dir, 'x.c'), '-o', path.join(dir, 'x.o')], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  btf = Btf.parse(ElfFile.open(path.join(dir, 'x.o')).section('.BTF')!);
  fs.rmSync(dir, { recursive: true });
});

const value = {
  small: 200, mid: 65000, neg: -5, big: 2n ** 63n + 9n, comm: 'bpfkit',
  in: { a: 513, b: -2 }, arr: [1, 2, 3], flag_a: 1, level: 5, rest: 4000,
  u: { word: 0x04030201, bytes: [1, 2, 3, 4] }, c: 7, ok: true, ptr: 0xffff888000001000n, sbig: -(2n ** 40n),
};

test('encode then decode round-trips every kind', () => {
  const t = btf.find('bk_sample', 'struct')!;
  const buf = new DataView(new ArrayBuffer(btf.sizeof(t.id)));
  makeEncoder(btf, t.id).encode(value, buf, 0);
  expect(makeDecoder(btf, t.id).decode(buf, 0)).toEqual(value);
  // 64-bit integers as numbers: what Number() of the exact value gives, signed and unsigned, above 2^53 too
  const n = makeDecoder(btf, t.id, { int64: 'number' }).decode(buf, 0);
  expect([n.big, n.sbig]).toEqual([Number(value.big), Number(value.sbig)]);
  for (const x of [-1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n) - 3n]) {
    makeEncoder(btf, t.id).encode({ ...value, sbig: x }, buf, 0);
    expect(makeDecoder(btf, t.id, { int64: 'number' }).decode(buf, 0).sbig).toBe(Number(x));
  }
  expect(btf.typeName(t.members!.find(m => m.name === 'comm')!.type)).toBe('char[16]');
});

test('decoding bytes laid out by hand (the C layout), and decode options', () => {
  const t = btf.find('bk_sample', 'struct')!;
  const off = (name: string) => t.members!.find(m => m.name === name)!.bitOffset / 8;
  const dv = new DataView(new ArrayBuffer(btf.sizeof(t.id)));
  dv.setUint8(off('small'), 9);
  dv.setBigUint64(off('big'), 12345n, true);
  new Uint8Array(dv.buffer, off('comm'), 16).set(Buffer.from('abc\0junk'));
  dv.setUint32(off('arr') + 8, 77, true);
  const d = makeDecoder(btf, t.id).decode(dv, 0);
  expect([d.small, d.big, d.comm, d.arr[2]]).toEqual([9, 12345n, 'abc', 77]);
  const asNumbers = makeDecoder(btf, t.id, { int64: 'number', bytesFields: ['comm'] }).decode(dv, 0);
  expect(asNumbers.big).toBe(12345);
  expect(Array.from(asNumbers.comm.slice(0, 4))).toEqual([97, 98, 99, 0]);
});

test('char arrays decoded one after another read exactly what TextDecoder reads (the last value is remembered)', () => {
  const t = btf.find('bk_sample', 'struct')!;
  const size = btf.sizeof(t.id);
  const commOff = t.members!.find(m => m.name === 'comm')!.bitOffset / 8;
  const dec = makeDecoder(btf, t.id);
  const texts = [
    'bash', 'bash', 'bas', 'bash', 'bashful', '', 'x', 'héllo', 'héllo', 'hé', 'abcdefghijklmnop',
    'abcdefghijklmnop', 'abcdefghijklmno', '日本語', '\u00ff\u00fe', 'bash',
  ];
  const dv = new DataView(new ArrayBuffer(size * (texts.length + 1)));
  const comm = (i: number) => new Uint8Array(dv.buffer, i * size + commOff, 16);
  texts.forEach((text, i) => comm(i).set(Buffer.from(text).subarray(0, 16)));
  comm(texts.length).set([0x61, 0xc3, 0x28, 0xff, 0x62]); // invalid UTF-8: replacement characters
  const reference = (i: number) => {
    const bytes = comm(i);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(bytes.subarray(0, end < 0 ? 16 : end));
  };
  for (let i = 0; i <= texts.length; i++) expect([i, dec.decode(dv, i * size).comm]).toEqual([i, reference(i)]);
  expect(dec.decode(dv, 0).comm).toBe('bash');
});
