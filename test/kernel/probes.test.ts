// Probe specifications resolved against this machine: tracefs, the kernel's function list, libc found
// like the dynamic linker does, a PIE test binary's symbols, python3.11's USDT notes. Second sources:
// the tracefs directory itself, readelf, ldconfig, the process's own maps.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tracefsDir } from '../../lib/compile/tracepoints.js';
import { mappedFiles, parseAndResolve, parseProbeSpec, ProbeResolveError, resolveProbes, type TracepointTarget, type UsdtTarget, type UserFunctionTarget } from '../../lib/probes/index.js';
import { syscallNumber } from '../../lib/probes/syscalls.js';
import { buildC, tmpDir, waitUntil } from './helpers.js';

const resolve = (text: string, opts: { regex?: boolean; pid?: number } = {}) => parseAndResolve([text], opts).probes;
const failure = (text: string, opts: { regex?: boolean; pid?: number } = {}) => {
  try {
    resolve(text, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ProbeResolveError);
    return (e as Error).message;
  }
  throw new Error(`'${text}' resolved`);
};

/** readelf -Ws: symbol name -> value, of defined functions. */
function readelfFunctions(file: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const r = spawnSync('readelf', ['-Ws', '--dyn-syms', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && (f[3] === 'FUNC' || f[3] === 'IFUNC') && f[6] !== 'UND') out.set(f[7]!.replace(/@.*$/, ''), BigInt(`0x${f[1]}`));
  }
  return out;
}

describe('tracepoints', () => {
  const events = `${tracefsDir()}/events`;

  test('one event, and a wildcard over events: the same list as the tracefs directory', () => {
    expect(resolve('t:sched:sched_switch')).toMatchObject([{ id: 0, type: 'tracepoint', category: 'sched', event: 'sched_switch', label: 'sched:sched_switch' }]);
    const dir = fs.readdirSync(`${events}/syscalls`).filter(e => e.startsWith('sys_enter_')).sort();
    const got = resolve('t:syscalls:sys_enter_*') as TracepointTarget[];
    expect(got.map(t => t.event)).toEqual(dir);
    expect(got.map(t => t.id)).toEqual(dir.map((_, i) => i));
    expect(dir.length).toBeGreaterThan(300);
  });

  test('a wildcard over categories, and -r', () => {
    const got = resolve('t:sch*:sched_process_e*').map(t => t.label).sort();
    expect(got).toEqual(['sched:sched_process_exec', 'sched:sched_process_exit']);
    expect(resolve('t:syscalls:sys_(enter|exit)_getppid$', { regex: true }).map(t => t.label).sort())
      .toEqual(['syscalls:sys_enter_getppid', 'syscalls:sys_exit_getppid']);
  });

  test('no match names the spec', () => {
    expect(failure('t:sched:no_such_event')).toBe("no tracepoint matches 't:sched:no_such_event'");
    expect(failure('t:nosuchcat*:*')).toBe("no tracepoint matches 't:nosuchcat*:*'");
  });
});

describe('kernel functions', () => {
  test('exact names, syscall spellings, globs minus exclusions', () => {
    expect(resolve('vfs_read')).toMatchObject([{ type: 'kprobe', function: 'vfs_read', label: 'vfs_read' }]);
    expect(resolve('r::vfs_read')).toMatchObject([{ type: 'kretprobe', function: 'vfs_read' }]);
    expect(resolve('p::sys_getppid')).toMatchObject([{ function: '__x64_sys_getppid' }]);
    const vfs = resolve('vfs_*').map(t => t.label);
    expect(vfs).toEqual(expect.arrayContaining(['vfs_read', 'vfs_write', 'vfs_open']));
    expect(vfs.every(n => n.startsWith('vfs_') && !n.endsWith('.cold'))).toBe(true);
    // -r: re.match, anchored at the start only
    expect(resolve('vfs_(read|write)$', { regex: true }).map(t => t.label)).toEqual(['vfs_read', 'vfs_write']);
  });

  test('no match names the spec', () => {
    expect(failure('no_such_function_bpfkit')).toMatch(/^'no_such_function_bpfkit': kernel function no_such_function_bpfkit is not traceable on this kernel/);
    expect(failure('no_such_function_bpfkit*')).toBe("no traceable kernel function matches 'no_such_function_bpfkit*'");
  });
});

describe('user functions', () => {
  const libc = (() => {
    const line = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout.split('\n').find(l => /libc\.so\.6 \(libc6,x86-64\)/.test(l));
    return fs.realpathSync(line!.split(' => ')[1]!.trim());
  })();

  test('c:malloc is libc\'s malloc, at readelf\'s address', () => {
    const [t] = resolve('c:malloc') as UserFunctionTarget[];
    expect(fs.realpathSync(t!.binary)).toBe(libc);
    expect(t).toMatchObject({ type: 'uprobe', symbol: 'malloc', label: 'malloc' });
    expect(t!.address).toBe(readelfFunctions(libc).get('malloc'));
    expect(resolve('r:libc.so.6:malloc')).toMatchObject([{ type: 'uretprobe', symbol: 'malloc', address: t!.address }]);
  });

  test('c:str* is every str* function, each address once', () => {
    const got = resolve('c:str*') as UserFunctionTarget[];
    const names = got.map(t => t.symbol);
    expect(names).toEqual(expect.arrayContaining(['strlen', 'strcmp', 'strchr']));
    expect(names.every(n => n.startsWith('str'))).toBe(true);
    expect(new Set(got.map(t => t.address)).size).toBe(got.length);
    // every str* function readelf lists is probed (once, maybe under an alias); libc6-dbg's .symtab adds local ones
    const addresses = new Set(got.map(t => t.address));
    const elf = [...readelfFunctions(libc)].filter(([n]) => n.startsWith('str'));
    expect(elf.length).toBeGreaterThan(20);
    for (const [, addr] of elf) expect(addresses.has(addr)).toBe(true);
  });

  test('a PIE test binary: its functions by glob, at file offsets', () => {
    const dir = tmpDir();
    const bin = path.join(dir, 'target');
    buildC(bin, `#include <stdio.h>
__attribute__((noinline)) int bpfkit_probe_one(int x) { return x + 1; }
__attribute__((noinline)) int bpfkit_probe_two(int x) { return x * 2; }
int main(int argc, char **argv) { printf("%d\\n", bpfkit_probe_one(argc) + bpfkit_probe_two(argc)); return 0; }
`);
    const got = resolve(`${bin}:bpfkit_probe_*`) as UserFunctionTarget[];
    expect(got.map(t => t.symbol)).toEqual(['bpfkit_probe_one', 'bpfkit_probe_two']);
    const elf = readelfFunctions(bin);
    for (const t of got) {
      expect(t.binary).toBe(bin);
      expect(t.address).toBe(elf.get(t.symbol));
      // gcc's PIE puts .text in a PT_LOAD whose offset equals its vaddr: the file offset is the address
      expect(BigInt(t.fileOffset)).toBe(t.address);
    }
    expect(failure(`${bin}:nomatch_*`)).toBe(`no function matches '${bin}:nomatch_*' in ${bin}`);
    expect(failure(`${bin}:nomatch`)).toBe(`no function nomatch in ${bin}`);
  });

  test('an unknown library is named', () => {
    expect(failure('nosuchlib_bpfkit:foo')).toBe("'nosuchlib_bpfkit:foo': cannot find library or binary 'nosuchlib_bpfkit'");
  });

  test('with -p PID, the library the process has mapped', async () => {
    const child = spawn('sleep', ['30']);
    try {
      await waitUntil(() => mappedFiles(child.pid!).some(f => /libc\.so/.test(f)), 'sleep to map libc');
      const mapped = mappedFiles(child.pid!).find(f => /libc\.so/.test(f))!;
      expect(resolve('c:free', { pid: child.pid })).toMatchObject([{ binary: mapped, symbol: 'free' }]);
    } finally {
      child.kill();
    }
  });
});

describe('USDT', () => {
  const python = '/usr/bin/python3.11';

  test("python3.11's function__* probes, with readelf's notes as second source", () => {
    const got = resolve(`u:${python}:function__*`) as UsdtTarget[];
    expect(got.map(t => `${t.provider}:${t.name}`).sort()).toEqual(['python:function__entry', 'python:function__return']);
    expect(got[0]).toMatchObject({ binary: python, label: got[0]!.name });
    const notes = spawnSync('readelf', ['-n', python], { encoding: 'utf8' }).stdout;
    const names = [...notes.matchAll(/Name: (\S+)/g)].map(m => m[1]);
    expect(resolve(`u:${python}:*`).map(t => t.label).sort()).toEqual([...new Set(names)].sort());
    expect(resolve('u:python3.11:python:gc__start')).toMatchObject([{ provider: 'python', name: 'gc__start' }]);
  });

  test('without a library, the files of -p PID', async () => {
    const child = spawn(python, ['-c', 'import time; time.sleep(30)']);
    try {
      await waitUntil(() => mappedFiles(child.pid!).includes(python), 'python to start');
      expect(resolve('u::function__entry', { pid: child.pid })).toMatchObject([{ binary: python, provider: 'python', name: 'function__entry' }]);
    } finally {
      child.kill();
    }
    expect(failure('u::function__entry')).toBe("'u::function__entry': a USDT probe needs a library or binary (u:/path/to/bin:probe) or -p PID");
    expect(failure(`u:${python}:no_such_probe`)).toBe(`no USDT probe matches 'u:${python}:no_such_probe' in ${python}`);
  });
});

test('several specs: each target once, ids in order', () => {
  const specs = ['t:sched:sched_switch', 'vfs_read', 't:sched:sched_swi*', 'c:malloc'].map(t => parseProbeSpec(t));
  const got = resolveProbes(specs);
  expect(got.map(t => [t.id, t.label])).toEqual([[0, 'sched:sched_switch'], [1, 'vfs_read'], [2, 'malloc']]);
});

(process.arch === 'x64' ? test : test.skip)('every syscall tracepoint of this kernel has its number, each number once', () => {
  const events = fs.readdirSync(`${tracefsDir()}/events/syscalls`).filter(e => e.startsWith('sys_enter_')).map(e => e.slice('sys_enter_'.length));
  const numbers = events.map(e => [e, syscallNumber(e)] as const);
  expect(numbers.filter(([, nr]) => nr === undefined).map(([e]) => e)).toEqual([]);
  expect(new Set(numbers.map(([, nr]) => nr)).size).toBe(events.length);
});
