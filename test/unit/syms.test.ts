// Symbols: ELF symbol tables and segments, live process maps (PIE + shared library), kallsyms,
// ld.so.cache, demangling.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demangle, ElfFile, formatSymbol, KernelSymbols, ProcessSymbols, resolveLibrary } from '../../lib/syms/index.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-syms-'));
  fs.writeFileSync(path.join(dir, 'lib.c'), '__attribute__((noinline)) int lib_fn(int x) { return x + 1; }\n');
  fs.writeFileSync(path.join(dir, 'main.c'), `#include <stdio.h>
#include <unistd.h>
int lib_fn(int);
__attribute__((noinline)) int main_fn(int x) { return x * 3; }
int main(void) { printf("%p %p\\n", (void *)&main_fn, (void *)&lib_fn); fflush(stdout); main_fn(lib_fn(1)); pause(); return 0; }
`);
  const cc = (...args: string[]) => expect(spawnSync('gcc', args, { encoding: 'utf8' }).stderr).toBe('');
  cc('-O1', '-g', '-shared', '-fPIC', '-o', path.join(dir, 'libbk.so'), path.join(dir, 'lib.c'));
  cc('-O1', '-g', '-pie', '-fPIE', '-o', path.join(dir, 'main'), path.join(dir, 'main.c'), `-L${dir}`, '-lbk', `-Wl,-rpath,${dir}`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('ELF: function symbols and their file offsets agree with nm/readelf', () => {
  const elf = ElfFile.open(path.join(dir, 'main'));
  expect(elf.type).toBe('DYN');
  const sym = elf.functionSymbol('main_fn')!;
  const nm = spawnSync('nm', [path.join(dir, 'main')], { encoding: 'utf8' }).stdout;
  expect(BigInt('0x' + /^([0-9a-f]+) T main_fn$/m.exec(nm)![1])).toBe(sym.value);
  expect(elf.fileOffset(sym.value)).toBeDefined();
  expect(elf.functionAt(sym.value + 2n)).toEqual({ name: 'main_fn', offset: 2 });
  expect(() => ElfFile.open(path.join(dir, 'main.c'))).toThrow('not an ELF file');
});

test('a live PIE process: addresses in the binary and in a shared library resolve', async () => {
  const child = spawn(path.join(dir, 'main'), [], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>(r => child.stdout!.once('data', d => r(String(d))));
    const [mainAddr, libAddr] = line.trim().split(' ').map(s => BigInt(s));
    const ps = new ProcessSymbols(child.pid!);
    expect(ps.resolve(mainAddr + 1n)).toEqual({ name: 'main_fn', offset: 1, module: 'main' });
    expect(ps.resolve(libAddr)).toEqual({ name: 'lib_fn', offset: 0, module: 'libbk.so' });
    expect(formatSymbol(ps.resolve(libAddr), libAddr, { showOffset: true, showModule: true })).toBe('lib_fn+0x0 [libbk.so]');
    expect(formatSymbol(undefined, 0x1234n)).toBe('[unknown]');
    expect(resolveLibrary('bk', child.pid)).toBe(path.join(dir, 'libbk.so'));
  } finally {
    child.kill('SIGKILL');
  }
});

test('kernel symbols: load quickly, resolve addresses and names', () => {
  const t0 = performance.now();
  const ks = KernelSymbols.load();
  const ms = performance.now() - t0;
  process.stdout.write(`kallsyms: ${ms.toFixed(0)} ms\n`);
  expect(ms).toBeLessThan(1500);
  const addr = ks.address('schedule')!;
  expect(ks.resolve(addr + 4n)).toMatchObject({ name: 'schedule', offset: 4, module: 'kernel' });
  expect(formatSymbol(ks.resolve(addr + 4n), addr + 4n, { showOffset: true })).toBe('schedule+0x4');
  expect(ks.has('vfs_read')).toBe(true);
  expect(ks.match(/^vfs_read$/)).toEqual(['vfs_read']);
});

test('libraries by short name through ld.so.cache; executables through PATH', () => {
  expect(resolveLibrary('c')).toMatch(/\/libc\.so\.6$/);
  expect(fs.existsSync(resolveLibrary('c'))).toBe(true);
  expect(resolveLibrary('libc.so.6')).toBe(resolveLibrary('c'));
  expect(resolveLibrary('sh')).toMatch(/\/sh$/);
  expect(() => resolveLibrary('no_such_lib_xyz')).toThrow("cannot find library or binary 'no_such_lib_xyz'");
});

test('C++ names demangle to their qualified form', () => {
  expect(demangle('_ZN3foo3barEv')).toBe('foo::bar');
  expect(demangle('_Z5helloi')).toBe('hello');
  expect(demangle('plain_c')).toBe('plain_c');
});
