// lib/syms: ELF reading checked against nm/readelf on binaries built here with gcc, process symbols
// on live children, kernel symbols from /proc/kallsyms, ld.so.cache lookup, USDT notes, demangling.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ElfFile, KernelSymbols, ProcessSymbols, PerfMap, formatSymbol, symbolizeStack, resolveLibrary, demangle,
  parseMaps, parseLdSoCache, parseUsdtArgs, STT_FUNC, PT_LOAD,
} from '../../lib/syms/index.js';
import { unversioned } from '../../lib/syms/elf.js';

let dir = '';
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', cwd: dir });

const LIB_C = `int lib_add(int a, int b) { return a + b; }
int lib_twice(int a) { return lib_add(a, a); }
`;
// A second translation unit with a USDT semaphore (needs _SDT_HAS_SEMAPHORES before sdt.h).
const SEM_C = `#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
unsigned short bpfkit_withsem_semaphore __attribute__((unused)) __attribute__((section(".probes")));
int sem_fn(int v) { if (bpfkit_withsem_semaphore) STAP_PROBE1(bpfkit, withsem, v); return v; }
`;
const PROG_C = `#include <stdio.h>
#include <sys/sdt.h>
extern int lib_add(int, int);
extern int sem_fn(int);
__attribute__((noinline)) int target_fn(int x) { STAP_PROBE2(bpfkit, probe1, x, (long)x * 2); return x + 1; }
__attribute__((noinline)) static int local_fn(int x) { return x * 3; }
int main(int argc, char **argv) {
  (void)argv;
  printf("%p %p %p %p\\n", (void *)&target_fn, (void *)&local_fn, (void *)&lib_add, (void *)&getchar);
  fflush(stdout);
  getchar();
  return (target_fn(argc) + local_fn(argc) + lib_add(1, 2) + sem_fn(0)) & 1;
}
`;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-syms-'));
  fs.writeFileSync(path.join(dir, 'lib.c'), LIB_C);
  fs.writeFileSync(path.join(dir, 'sem.c'), SEM_C);
  fs.writeFileSync(path.join(dir, 'prog.c'), PROG_C);
  run('gcc', ['-O0', '-g', '-shared', '-fPIC', '-o', 'libsymtest.so', 'lib.c']);
  const common = ['prog.c', 'sem.c', '-L.', '-lsymtest', `-Wl,-rpath,${dir}`];
  run('gcc', ['-O0', '-g', '-fPIE', '-pie', '-o', 'prog_pie', ...common]);
  run('gcc', ['-O0', '-g', '-fno-pie', '-no-pie', '-o', 'prog_nopie', ...common]);
  run('gcc', ['-O0', '-g', '-fPIE', '-pie', '-s', '-o', 'prog_stripped', ...common]);
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const bin = (name: string) => path.join(dir, name);

/** nm's defined symbols: name -> { value, type letter }. */
function nm(file: string, dynamic = false): Map<string, { value: bigint; type: string; size?: bigint }> {
  const out = new Map<string, { value: bigint; type: string; size?: bigint }>();
  const text = execFileSync('nm', [...(dynamic ? ['-D'] : []), '-S', '--defined-only', file], { encoding: 'utf8' });
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // versioned dynamic names ("malloc@@GLIBC_2.2.5") by their plain name
    if (f.length === 4) out.set(f[3].replace(/@.*/, ''), { value: BigInt('0x' + f[0]), size: BigInt('0x' + f[1]), type: f[2] });
    else if (f.length === 3) out.set(f[2].replace(/@.*/, ''), { value: BigInt('0x' + f[0]), type: f[1] });
  }
  return out;
}

/** readelf -SW: section name -> { addr, offset }. */
function readelfSections(file: string): Map<string, { addr: bigint; offset: number }> {
  const out = new Map<string, { addr: bigint; offset: number }>();
  for (const line of execFileSync('readelf', ['-SW', file], { encoding: 'utf8' }).split('\n')) {
    const m = /\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)\s/.exec(line);
    if (m) out.set(m[1], { addr: BigInt('0x' + m[2]), offset: parseInt(m[3], 16) });
  }
  return out;
}

describe('ElfFile', () => {
  test('header, sections and program headers of PIE and non-PIE executables', () => {
    const pie = ElfFile.open(bin('prog_pie'));
    const nopie = ElfFile.open(bin('prog_nopie'));
    expect(pie.type).toBe('DYN');
    expect(nopie.type).toBe('EXEC');
    if (process.arch === 'x64') expect(pie.machine).toBe(62);
    const text = pie.sections().find(s => s.name === '.text')!;
    const expected = readelfSections(bin('prog_pie')).get('.text')!;
    expect(text.addr).toBe(expected.addr);
    expect(text.offset).toBe(expected.offset);
    expect(pie.section('.text')!.length).toBe(text.size);
    expect(pie.section('.no_such_section')).toBeUndefined();
    const loads = nopie.programHeaders().filter(p => p.type === PT_LOAD);
    expect(loads.length).toBeGreaterThanOrEqual(2);
    expect(loads.some(p => p.vaddr >= 0x400000n)).toBe(true);
  });

  test('functionSymbol and fileOffset agree with nm and readelf', () => {
    for (const name of ['prog_pie', 'prog_nopie']) {
      const file = bin(name);
      const elf = ElfFile.open(file);
      const syms = nm(file);
      const secs = readelfSections(file);
      const text = secs.get('.text')!;
      let checked = 0;
      for (const [sym, info] of syms) {
        if (info.type !== 'T' && info.type !== 't') continue;
        const f = elf.functionSymbol(sym);
        expect({ sym, value: f?.value }).toEqual({ sym, value: info.value });
        if (info.size !== undefined) expect(f!.size).toBe(info.size);
        // independent of PT_LOAD arithmetic: the offset of the symbol within .text
        if (info.value >= text.addr && info.value < text.addr + BigInt(elf.sections().find(s => s.name === '.text')!.size)) {
          expect(elf.fileOffset(info.value)).toBe(text.offset + Number(info.value - text.addr));
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(3); // target_fn, local_fn, main at least
      expect(elf.functionSymbol('local_fn')).toBeDefined(); // a static (local) function from .symtab
      expect(elf.functionSymbol('no_such_function')).toBeUndefined();
      expect(elf.functionSymbol('lib_add')).toBeUndefined(); // imported, not defined here
    }
  });

  test('a shared library: .symtab and .dynsym merged without duplicates; symbolAt', () => {
    const elf = ElfFile.open(bin('libsymtest.so'));
    const all = elf.symbols();
    expect(all.filter(s => s.name === 'lib_add').length).toBe(1);
    const dyn = nm(bin('libsymtest.so'), true);
    const f = elf.functionSymbol('lib_add')!;
    expect(f.value).toBe(dyn.get('lib_add')!.value);
    expect(all.find(s => s.name === 'lib_add')!.type).toBe(STT_FUNC);
    expect(elf.symbolAt(f.value + 3n)).toMatchObject({ name: 'lib_add', offset: 3 });
    expect(elf.symbolAt(f.value + f.size)?.name).not.toBe('lib_add');
    expect(elf.functionAt(f.value + 2n)).toEqual({ name: 'lib_add', offset: 2 });
  });

  test('PLT stubs are named as objdump names them', () => {
    for (const name of ['prog_nopie', 'prog_pie']) {
      const elf = ElfFile.open(bin(name));
      const stubs = [...execFileSync('objdump', ['-d', bin(name)], { encoding: 'utf8' }).matchAll(/^([0-9a-f]+) <(\S+@plt)>:$/gm)];
      expect(stubs.length).toBeGreaterThanOrEqual(3);
      for (const [, addr, stub] of stubs) expect(elf.symbolAt(BigInt('0x' + addr) + 2n)).toMatchObject({ name: stub, offset: 2 });
    }
  });

  test('stripped executables still have .dynsym; build id matches readelf', () => {
    const stripped = ElfFile.open(bin('prog_stripped'));
    expect(stripped.sections().some(s => s.name === '.symtab')).toBe(false);
    expect(stripped.functionSymbol('target_fn')).toBeUndefined();
    const m = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', bin('prog_pie')], { encoding: 'utf8' }));
    expect(m).not.toBeNull();
    expect(ElfFile.open(bin('prog_pie')).buildId()).toBe(m![1]);
  });

  test('libc resolves through .dynsym', () => {
    const libc = ElfFile.open(resolveLibrary('c'));
    const dyn = nm(resolveLibrary('c'), true);
    for (const name of ['malloc', 'getpid', 'write']) {
      expect(libc.functionSymbol(name)?.value).toBe(dyn.get(name)?.value);
    }
  });

  test('symbol versions are not part of the names printed (libc6-dbg\'s .symtab names compat versions literally)', () => {
    const libc = ElfFile.open(resolveLibrary('c'));
    const dyn = nm(resolveLibrary('c'), true);
    // clock_nanosleep has a GLIBC_2.2.5 compat version and the default GLIBC_2.17 one at one address
    for (const name of ['clock_nanosleep', 'memcpy', 'malloc']) {
      const at = libc.symbolAt(dyn.get(name)!.value);
      expect(at?.name).not.toContain('@');
    }
    expect(libc.symbolAt(dyn.get('clock_nanosleep')!.value)?.name).toBe('clock_nanosleep');
    expect(unversioned('clock_nanosleep@GLIBC_2.2.5')).toBe('clock_nanosleep');
    expect(unversioned('memcpy@@GLIBC_2.14')).toBe('memcpy');
    expect(unversioned('puts@plt')).toBe('puts@plt');
  });

  test('errors name the file', () => {
    const notElf = path.join(dir, 'lib.c');
    expect(() => ElfFile.open(notElf)).toThrow(`${notElf}: not an ELF file`);
    expect(() => ElfFile.open(path.join(dir, 'missing'))).toThrow(/ENOENT/);
  });
});

describe('USDT notes', () => {
  function readelfProbes(file: string) {
    const text = execFileSync('readelf', ['-n', file], { encoding: 'utf8' });
    const out: { provider: string; name: string; pc: bigint; semaphore: bigint; args: string }[] = [];
    const re = /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: (0x[0-9a-f]+)\s+Arguments: ([^\n]*)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text))) out.push({ provider: m[1], name: m[2], pc: BigInt(m[3]), semaphore: BigInt(m[4]), args: m[5].trim() });
    return out;
  }

  test.each(['prog_pie', 'prog_nopie'])('%s: probes, arguments and semaphores as readelf shows them', name => {
    const elf = ElfFile.open(bin(name));
    const probes = elf.usdtNotes();
    const expected = readelfProbes(bin(name));
    expect(expected.length).toBe(2);
    expect(probes.map(p => ({ provider: p.provider, name: p.name, pc: p.pc, semaphore: p.semaphore, args: p.args }))).toEqual(expected);
    const p1 = probes.find(p => p.name === 'probe1')!;
    expect(p1.provider).toBe('bpfkit');
    expect(p1.args.split(' ').length).toBe(2);
    expect(p1.fileOffset).toBe(elf.fileOffset(p1.pc));
    expect(p1.semaphore).toBe(0n);
    // the probe's nop lies inside target_fn
    const fn = elf.functionSymbol('target_fn')!;
    expect(p1.pc >= fn.value && p1.pc < fn.value + fn.size).toBe(true);
    const withSem = probes.find(p => p.name === 'withsem')!;
    expect(withSem.semaphore).toBe(elf.symbol('bpfkit_withsem_semaphore')!.value);
    expect(withSem.semaphoreOffset).toBe(elf.fileOffset(withSem.semaphore));
    // the argument spec parses: "-4@-4(%rbp) -8@%rax" style
    const args = parseUsdtArgs(p1.args);
    expect(args[0]).toMatchObject({ size: 4, signed: true });
    expect(args.every(a => ['reg', 'mem', 'const', 'sib'].includes(a.kind))).toBe(true);
  });

  test('parseUsdtArgs forms', () => {
    expect(parseUsdtArgs('-4@%edi 8@-16(%rbp) 4@$5 8@8(%rax,%rdx,8) 2@(%rsi)')).toEqual([
      { size: 4, signed: true, kind: 'reg', reg: 'edi', text: '-4@%edi' },
      { size: 8, signed: false, kind: 'mem', reg: 'rbp', value: -16n, text: '8@-16(%rbp)' },
      { size: 4, signed: false, kind: 'const', value: 5n, text: '4@$5' },
      { size: 8, signed: false, kind: 'sib', reg: 'rax', index: 'rdx', scale: 8, value: 8n, text: '8@8(%rax,%rdx,8)' },
      { size: 2, signed: false, kind: 'mem', reg: 'rsi', value: 0n, text: '2@(%rsi)' },
    ]);
    expect(parseUsdtArgs('')).toEqual([]);
  });

  test('a binary without probes has none', () => {
    expect(ElfFile.open(bin('libsymtest.so')).usdtNotes()).toEqual([]);
  });
});

/** Starts a test program that prints its function addresses and waits on stdin. */
async function startChild(name: string): Promise<{ child: ChildProcess; addrs: bigint[] }> {
  const child = spawn(bin(name), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.split('\n')[0]);
    });
    child.on('error', reject);
    child.on('exit', code => reject(new Error(`${name} exited (${code})`)));
  });
  return { child, addrs: line.trim().split(' ').map(x => BigInt(x)) };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('ProcessSymbols', () => {
  test.each(['prog_pie', 'prog_nopie'])('%s: runtime addresses resolve to names, also after exit', async name => {
    const { child, addrs } = await startChild(name);
    const [target, local, libAdd, getcharAddr] = addrs;
    let syms: ProcessSymbols;
    try {
      syms = new ProcessSymbols(child.pid!);
      expect(syms.resolve(target)).toMatchObject({ name: 'target_fn', offset: 0, module: name });
      expect(syms.resolve(target + 5n)).toMatchObject({ name: 'target_fn', offset: 5, module: name });
      expect(syms.resolve(local + 2n)).toMatchObject({ name: 'local_fn', offset: 2, module: name });
      if (name === 'prog_pie') {
        // a PIE takes a function's real address through the GOT
        expect(syms.resolve(libAdd + 1n)).toEqual({ name: 'lib_add', offset: 1, module: 'libsymtest.so' });
        expect(syms.moduleOf(libAdd)).toBe('libsymtest.so');
        const g = syms.resolve(getcharAddr)!;
        expect(g.module).toMatch(/^libc[.-]/);
        expect(g.name).toMatch(/getchar/);
      } else {
        // a non-PIE executable's function pointers to library functions are its PLT stubs
        expect(syms.resolve(libAdd + 1n)).toEqual({ name: 'lib_add@plt', offset: 1, module: name });
        expect(syms.resolve(getcharAddr)).toEqual({ name: 'getchar@plt', offset: 0, module: name });
      }
      // the library's own copy, wherever it was mapped
      const lib = syms.maps.find(m => m.path.endsWith('/libsymtest.so'))!;
      const libElf = ElfFile.open(bin('libsymtest.so'));
      const libFn = lib.start - lib.offset + libElf.functionSymbol('lib_twice')!.value - libElf.loadBase();
      expect(syms.resolve(libFn + 3n)).toEqual({ name: 'lib_twice', offset: 3, module: 'libsymtest.so' });
      expect(formatSymbol(syms.resolve(target + 3n), target + 3n, { showOffset: true, showModule: true })).toBe(`target_fn+0x3 [${name}]`);
      expect(symbolizeStack([target + 4n, libFn, 0n, local], 'user', child.pid!, { processSymbols: syms })).toEqual(['target_fn', 'lib_twice']);
    } finally {
      await stopChild(child);
    }
    // the maps were read while the process lived; the files are still there
    const again = new ProcessSymbols(child.pid!);
    expect(again.alive).toBe(false);
    expect(syms!.resolve(local)).toMatchObject({ name: 'local_fn' });
    expect(syms!.resolve(0x10n)).toBeUndefined();
  });

  test('JIT perf map for anonymous memory; the vDSO', async () => {
    const { child } = await startChild('prog_pie');
    const mapFile = `/tmp/perf-${child.pid}.map`;
    try {
      const syms0 = new ProcessSymbols(child.pid!);
      const anon = syms0.maps.find(m => m.path === '' || m.path === '[heap]' || m.path === '[stack]')!;
      expect(anon).toBeDefined();
      const base = anon.start + 0x100n;
      fs.writeFileSync(mapFile, `${base.toString(16)} 40 LazyCompile:~hot /app/x.js:1\n0x${(base + 0x40n).toString(16)} 0x20 Builtin:Other\n`);
      const syms = new ProcessSymbols(child.pid!);
      expect(syms.resolve(base + 0x10n)).toMatchObject({ name: 'LazyCompile:~hot /app/x.js:1', offset: 0x10, module: `perf-${child.pid}.map` });
      expect(syms.resolve(base + 0x45n)).toMatchObject({ name: 'Builtin:Other', offset: 5 });
      expect(syms.resolve(base + 0x80n)).toBeUndefined();

      const vdso = syms.maps.find(m => m.path === '[vdso]');
      if (vdso) {
        const mem = Buffer.alloc(Number(vdso.end - vdso.start));
        const fd = fs.openSync(`/proc/${child.pid}/mem`, 'r');
        try {
          fs.readSync(fd, mem, 0, mem.length, Number(vdso.start));
        } finally {
          fs.closeSync(fd);
        }
        const image = ElfFile.fromBuffer(mem, '[vdso]');
        const fn = image.functionSymbol('__vdso_clock_gettime') ?? image.functionSymbol('clock_gettime');
        expect(fn).toBeDefined();
        const addr = vdso.start + (image.fileOffset(fn!.value) !== undefined ? BigInt(image.fileOffset(fn!.value)!) : fn!.value);
        expect(syms.resolve(addr + 1n)?.name).toMatch(/clock_gettime/);
        expect(syms.resolve(addr)?.module).toBe('[vdso]');
      }
    } finally {
      fs.rmSync(mapFile, { force: true });
      await stopChild(child);
    }
  });

  test('PerfMap: sorted lookup, the latest entry wins, appended lines are picked up', () => {
    const file = path.join(dir, 'perf-test.map');
    fs.writeFileSync(file, '1000 100 first\n500 10 low\n');
    const pm = new PerfMap(file);
    expect(pm.update()).toBe(true);
    expect(pm.lookup(0x1010n)).toEqual({ name: 'first', offset: 0x10 });
    expect(pm.lookup(0x505n)).toEqual({ name: 'low', offset: 5 });
    fs.appendFileSync(file, '1000 20 second\n2000 10 spl'); // a writer caught mid-line
    pm.update();
    expect(pm.lookup(0x1010n)).toEqual({ name: 'second', offset: 0x10 }); // reused range: newer entry
    expect(pm.lookup(0x1050n)).toEqual({ name: 'first', offset: 0x50 });
    expect(pm.lookup(0x2001n)).toBeUndefined();
    fs.appendFileSync(file, 'it\n3000 10 later\n');
    pm.update();
    expect(pm.lookup(0x2001n)).toEqual({ name: 'split', offset: 1 });
    expect(pm.lookup(0x3001n)).toEqual({ name: 'later', offset: 1 });
    expect(pm.size).toBe(5);
    expect(new PerfMap(path.join(dir, 'nope.map')).update()).toBe(false);
  });

  test('parseMaps', () => {
    const maps = parseMaps([
      '7f0000001000-7f0000002000 r-xp 00001000 08:01 1234    /usr/lib/my lib.so (deleted)',
      '55550000-55551000 r--p 00000000 08:01 99 /bin/prog',
      '7ffd0000-7ffd1000 rw-p 00000000 00:00 0                          [stack]',
      '7f0000003000-7f0000004000 rw-p 00000000 00:00 0 ',
      'garbage',
    ].join('\n'));
    expect(maps.map(m => m.path)).toEqual(['/bin/prog', '[stack]', '/usr/lib/my lib.so', '']);
    expect(maps[2]).toMatchObject({ start: 0x7f0000001000n, end: 0x7f0000002000n, perms: 'r-xp', offset: 0x1000n, inode: 1234, deleted: true });
  });
});

describe('KernelSymbols', () => {
  test('load, resolve, address, has, match against /proc/kallsyms', () => {
    KernelSymbols.reset();
    const ks = KernelSymbols.load();
    expect(KernelSymbols.load()).toBe(ks); // cached

    const line = /^([0-9a-f]{16}) [tT] schedule$/m.exec(fs.readFileSync('/proc/kallsyms', 'utf8'));
    expect(line).not.toBeNull();
    const addr = ks.address('schedule')!;
    expect(addr).toBe(BigInt('0x' + line![1]));
    expect(ks.resolve(addr + 4n)).toEqual({ name: 'schedule', offset: 4, module: 'kernel' });
    expect(formatSymbol(ks.resolve(addr + 4n), addr + 4n, { showOffset: true })).toBe('schedule+0x4');
    expect(formatSymbol(ks.resolve(addr + 4n), addr + 4n, { showOffset: true, showModule: true })).toBe('schedule+0x4 [kernel]');
    expect(formatSymbol(ks.resolve(0x1234n), 0x1234n)).toBe('[unknown]'); // a user-space address
    expect(ks.has('schedule')).toBe(true);
    expect(ks.has('no_such_symbol_bpfkit')).toBe(false);
    expect(ks.match(/^vfs_read$/)).toEqual(['vfs_read']);
    expect(ks.match(/^vfs_/g).length).toBeGreaterThan(5);
    // many lookups switch to the hash index: same answers
    const names = ks.match(/^tcp_/).slice(0, 40);
    const viaSearch = names.slice(0, 5).map(n => ks.address(n));
    for (const n of names) ks.address(n);
    expect(names.slice(0, 5).map(n => ks.address(n))).toEqual(viaSearch);
    for (const n of names) expect(ks.resolve(ks.address(n)!)?.offset).toBe(0);
    expect(symbolizeStack([addr + 4n, addr, 0n, addr], 'kernel', undefined, { showOffset: true })).toEqual(['schedule+0x4', 'schedule+0x0']);
    // a symbol of a module (ftrace trampolines or BPF programs are listed with a "[module]" column)
    for (const mod of ks.modules()) {
      const s = ks.moduleSymbols(mod)[0];
      if (s && s.address) expect(ks.resolve(s.address)?.module).toBe(mod);
    }
  });

  test('loadAsync gives the cached instance', async () => {
    const a = await KernelSymbols.loadAsync();
    expect(a).toBe(KernelSymbols.load());
  });

  test('fromText: sorted vmlinux part, unsorted module tail, aliases, restricted', () => {
    const text = [
      'ffffffff81000000 T _stext',
      'ffffffff81000000 T startup_64',
      'ffffffff81000100 t __pfx_do_thing',
      'ffffffff81000110 t do_thing',
      'ffffffff81000200 T do_thing', // same name again (static in another file)
      'ffffffff81000300 W weak_fn',
      'ffffffff81001000 D some_data',
      'ffffffffc0002000 t mod_b_fn\t[mod_b]',
      'ffffffffc0001000 t mod_a_fn\t[mod_a]',
      'ffffffffc0001080 T mod_a_other\t[mod_a]',
      'ffffffffc0003000 t bpf_prog_1234_handler\t[bpf]',
      '',
    ].join('\n');
    const ks = KernelSymbols.fromText(text);
    expect(ks.size).toBe(11);
    expect(ks.resolve(0xffffffff81000004n)).toEqual({ name: 'startup_64', offset: 4, module: 'kernel' });
    expect(ks.resolve(0xffffffff81000115n)).toEqual({ name: 'do_thing', offset: 5, module: 'kernel' });
    expect(ks.resolve(0xffffffffc0001010n)).toEqual({ name: 'mod_a_fn', offset: 0x10, module: 'mod_a' });
    expect(ks.resolve(0xffffffffc0001090n)).toEqual({ name: 'mod_a_other', offset: 0x10, module: 'mod_a' });
    expect(ks.resolve(0xffffffffc0002001n)).toEqual({ name: 'mod_b_fn', offset: 1, module: 'mod_b' });
    expect(ks.resolve(0xffffffffc0003008n)).toEqual({ name: 'bpf_prog_1234_handler', offset: 8, module: 'bpf' });
    expect(ks.resolve(0xffffffff80000000n)).toBeUndefined();
    expect(ks.resolve(0x00007fff00001000n)).toBeUndefined();
    expect(ks.address('do_thing')).toBe(0xffffffff81000110n); // the first one
    expect(ks.address('mod_b_fn')).toBe(0xffffffffc0002000n);
    expect(ks.address('some_data')).toBe(0xffffffff81001000n);
    expect(ks.match(/thing|weak|mod_/)).toEqual(['__pfx_do_thing', 'do_thing', 'weak_fn', 'mod_b_fn', 'mod_a_fn', 'mod_a_other']);
    expect(ks.modules()).toEqual(['mod_b', 'mod_a', 'bpf']);
    expect(ks.moduleSymbols('mod_a').map(s => s.name)).toEqual(['mod_a_fn', 'mod_a_other']);
    // beyond 2000 lookups an index replaces the byte search: same results
    for (let i = 0; i < 2100; i++) ks.resolve(0xffffffff81000000n + BigInt(i));
    expect(ks.resolve(0xffffffff81000115n)).toEqual({ name: 'do_thing', offset: 5, module: 'kernel' });
    expect(ks.resolve(0xffffffff81000204n)).toEqual({ name: 'do_thing', offset: 4, module: 'kernel' });

    const restricted = KernelSymbols.fromText('0000000000000000 T _stext\n0000000000000000 T schedule\n');
    expect(restricted.restricted).toBe(true);
    expect(restricted.resolve(0xffffffff81000000n)).toBeUndefined();
    expect(restricted.address('schedule')).toBeUndefined();
  });

  test('fromText: per-CPU symbols listed first at low addresses (kernels before ~6.15) do not make it restricted', () => {
    const ks = KernelSymbols.fromText([
      '0000000000000000 A fixed_percpu_data',
      '0000000000001000 A cpu_debug_store',
      'ffffffff81000000 T _stext',
      'ffffffff81000100 T vfs_read',
      'ffffffffc0001000 t mod_fn\t[mod]',
      '',
    ].join('\n'));
    expect(ks.restricted).toBe(false);
    expect(ks.resolve(0xffffffff81000108n)).toEqual({ name: 'vfs_read', offset: 8, module: 'kernel' });
    expect(ks.resolve(0xffffffffc0001004n)).toEqual({ name: 'mod_fn', offset: 4, module: 'mod' });
    expect(KernelSymbols.fromText('0000000000000000 A fixed_percpu_data\n0000000000000000 T _stext\n').restricted).toBe(true);
  });
});

describe('resolveLibrary', () => {
  test('libc by short name, lib name, soname', () => {
    for (const n of ['c', 'libc', 'libc.so.6']) {
      const p = resolveLibrary(n);
      expect(p.endsWith('libc.so.6')).toBe(true);
      expect(fs.existsSync(p)).toBe(true);
      expect(path.isAbsolute(p)).toBe(true);
    }
    expect(path.basename(resolveLibrary('pthread'))).toMatch(/^libpthread\.so/);
  });

  test('paths, executables in PATH, a process\'s own libraries, errors', async () => {
    expect(resolveLibrary(bin('prog_pie'))).toBe(bin('prog_pie'));
    expect(resolveLibrary(path.relative(process.cwd(), bin('prog_pie')))).toBe(bin('prog_pie'));
    const ls = resolveLibrary('ls');
    expect(path.basename(ls)).toBe('ls');
    expect(resolveLibrary('sh')).toMatch(/\/sh$/);
    expect(() => resolveLibrary('no_such_lib_xyz')).toThrow("cannot find library or binary 'no_such_lib_xyz'");
    expect(fs.existsSync(ls)).toBe(true);
    expect(() => resolveLibrary('symtest')).toThrow("cannot find library or binary 'symtest'"); // not in ld.so.cache
    expect(() => resolveLibrary('/no/such/file')).toThrow("cannot find library or binary '/no/such/file'");
    const { child } = await startChild('prog_pie');
    try {
      expect(resolveLibrary('symtest', child.pid)).toBe(bin('libsymtest.so'));
      expect(resolveLibrary('libsymtest.so', child.pid)).toBe(bin('libsymtest.so'));
    } finally {
      await stopChild(child);
    }
  });

  test('the ld.so.cache parser', () => {
    const entries = parseLdSoCache(fs.readFileSync('/etc/ld.so.cache'));
    expect(entries.length).toBeGreaterThan(10);
    const libc = entries.find(e => e.key === 'libc.so.6');
    expect(libc).toBeDefined();
    expect(libc!.path.endsWith('/libc.so.6')).toBe(true);
    expect(parseLdSoCache(Buffer.from('not a cache'))).toEqual([]);
  });
});

describe('demangle', () => {
  test('names (default) and full signatures', () => {
    const cases: [string, string, string][] = [
      ['_ZN3foo3barEv', 'foo::bar', 'foo::bar()'],
      ['_Z3addii', 'add', 'add(int, int)'],
      ['_ZNK5Shape4areaEv', 'Shape::area', 'Shape::area() const'],
      ['_ZNSt6vectorIiSaIiEE9push_backERKi', 'std::vector<int, std::allocator<int> >::push_back', 'std::vector<int, std::allocator<int> >::push_back(int const&)'],
      ['_ZN1AC2Ev', 'A::A', 'A::A()'],
      ['_ZN1AD1Ev', 'A::~A', 'A::~A()'],
      ['_ZNSsC1Ev', 'std::basic_string<char, std::char_traits<char>, std::allocator<char> >::basic_string', 'std::basic_string<char, std::char_traits<char>, std::allocator<char> >::basic_string()'],
      ['_Z1fSs', 'f', 'f(std::string)'],
      ['_Z3maxIiET_S0_S0_', 'max<int>', 'int max<int>(int, int)'],
      ['_ZN12_GLOBAL__N_13fooEv', '(anonymous namespace)::foo', '(anonymous namespace)::foo()'],
      ['_ZlsRSoRK1A', 'operator<<', 'operator<<(std::ostream&, A const&)'],
      ['_Z1fPFviE', 'f', 'f(void (*)(int))'],
      ['_Z1fRA10_i', 'f', 'f(int (&) [10])'],
      ['_Z1fM1AKFivE', 'f', 'f(int (A::*)() const)'],
      ['_ZZ4mainE5count', 'main::count', 'main::count'],
      ['_ZZ4mainENKUlvE_clEv', 'main::{lambda()#1}::operator()', 'main::{lambda()#1}::operator()() const'],
      ['_ZTV5Shape', 'vtable for Shape', 'vtable for Shape'],
      ['_ZTI5Shape', 'typeinfo for Shape', 'typeinfo for Shape'],
      ['_ZThn8_N1B1fEv', 'non-virtual thunk to B::f()', 'non-virtual thunk to B::f()'],
      ['_ZGVZ4mainE1x', 'guard variable for main::x', 'guard variable for main::x'],
      ['_Z3foov.cold', 'foo [clone .cold]', 'foo() [clone .cold]'],
      ['_Z3foov.isra.0.constprop.1', 'foo [clone .isra.0] [clone .constprop.1]', 'foo() [clone .isra.0] [clone .constprop.1]'],
      ['_ZN5Outer5InnerIfE3getB5cxx11Ev', 'Outer::Inner<float>::get[abi:cxx11]', 'Outer::Inner<float>::get[abi:cxx11]()'],
      ['_Z1fILi5ELb1EEvv', 'f<5, true>', 'void f<5, true>()'],
      ['_Z4sendIJicEEvDpOT_', 'send<int, char>', 'void send<int, char>(int&&, char&&)'],
      ['_ZN1AcviEv', 'A::operator int', 'A::operator int()'],
    ];
    for (const [mangled, name, full] of cases) {
      expect({ mangled, out: demangle(mangled) }).toEqual({ mangled, out: name });
      expect({ mangled, out: demangle(mangled, { params: true }) }).toEqual({ mangled, out: full });
    }
  });

  test('unmangled and unsupported names come back unchanged', () => {
    for (const s of ['main', 'schedule', '_start', '_Z', '_Zfoo', '_ZN3foo', '_ZN3foo3barEv@@V1', '_Z1fIXadL_Z1gvEEEvv', '_ZN1AIXplLi1ELi2EEE1fEv']) {
      expect(demangle(s)).toBe(s);
    }
  });

  test('agrees with the C++ runtime (c++filt) on libstdc++ symbols', () => {
    let cxxfilt = '';
    try {
      cxxfilt = execFileSync('which', ['c++filt'], { encoding: 'utf8' }).trim();
    } catch { /* binutils without c++filt */ }
    if (!cxxfilt) return;
    const libstdcxx = resolveLibrary('stdc++');
    const names = [...nm(libstdcxx, true).keys()].filter(n => n.startsWith('_Z')).slice(0, 3000);
    // c++filt expands std::string verbosely; compare on symbols without the std:: abbreviations
    const plain = names.filter(n => !/S[siod]/.test(n.replace(/S[0-9A-Z]*_/g, '')));
    const expected = execFileSync(cxxfilt, [], { input: plain.join('\n'), encoding: 'utf8' }).split('\n');
    let same = 0, unchanged = 0;
    plain.forEach((n, i) => {
      const got = demangle(n, { params: true });
      if (got === expected[i]) same++;
      else if (got === n) unchanged++;
    });
    expect(same + unchanged).toBe(plain.length);
    expect(same / plain.length).toBeGreaterThan(0.97);
  });

  test('formatSymbol demangles names', () => {
    const s = { name: '_ZN3foo3barEv', offset: 16, module: 'libfoo.so' };
    expect(formatSymbol(s, 0n)).toBe('foo::bar');
    expect(formatSymbol(s, 0n, { showOffset: true, showModule: true })).toBe('foo::bar+0x10 [libfoo.so]');
    expect(formatSymbol(s, 0n, { demangle: 'full' })).toBe('foo::bar()');
    expect(formatSymbol(s, 0n, { demangle: false })).toBe('_ZN3foo3barEv');
    expect(formatSymbol(undefined, 0x1234n, { showOffset: true })).toBe('[unknown]');
  });
});
