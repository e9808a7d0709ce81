// The compile cache: content-addressed, safe under concurrent runs; the precompiled bpfkit.h gives
// objects that load and count, is rebuilt when a header changes, and is shared by concurrent compiles;
// setup's precompile keeps both cores busy.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { BPF } from '../../lib/bpf.js';
import { ClangCompiler, compile, compileMany, includeDir } from '../../lib/compile/index.js';
import { root, tmpDir } from './helpers.js';

/** A real getppid(2) from this process (process.ppid is cached). */
const getppid = koffi.load('libc.so.6').func('int getppid(void)');

const text = (n: number) => `#include <bpfkit.h>
BPF_HASH(counts, u32, u64);
SEC("tracepoint/syscalls/sys_enter_getpid") int t(void *ctx) { u32 k = ${n}; map_increment(counts, k); return 0; }`;

/** Counts this process's getppid calls: a generated tracepoint struct (the preamble) and a CO-RE read. */
const counter = (tag: string) => `// ${tag}
#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
u64 calls = 0;
u32 seen_tgid = 0;
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u32 tgid = BPF_CORE_READ(task, tgid);
	if (tgid != targ_tgid || args->__syscall_nr < 0) return 0;
	seen_tgid = tgid;
	__sync_fetch_and_add(&calls, 1);
	return 0;
}`;

function withCache<T>(dir: string, fn: () => T): T {
  const saved = process.env.BPFKIT_CACHE;
  process.env.BPFKIT_CACHE = dir;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.BPFKIT_CACHE;
    else process.env.BPFKIT_CACHE = saved;
  }
}

/** Loads the object, makes exactly 25 getppid calls, and returns what the program counted. */
function countGetppid(elf: Buffer, name: string): { calls: number; tgid: number } {
  const bpf = BPF.load({ elf, name, rodata: { targ_tgid: process.pid } });
  try {
    expect(bpf.attachAll()).toBe(1);
    const g = bpf.globals('.bss');
    const before = Number(g.calls as bigint);
    for (let i = 0; i < 25; i++) getppid();
    return { calls: Number(g.calls as bigint) - before, tgid: Number(g.seen_tgid) };
  } finally {
    bpf.close();
  }
}

const pchFiles = (cache: string) => (fs.existsSync(path.join(cache, 'pch')) ? fs.readdirSync(path.join(cache, 'pch')) : []);

/** Waits for the background PCH build a compile started: a .pch there and no lock left. */
function waitForPch(cache: string, count = 1): string[] {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const files = pchFiles(cache);
    const pchs = files.filter(f => f.endsWith('.pch'));
    if (pchs.length >= count && !files.some(f => f.endsWith('.lock'))) return pchs;
    if (Date.now() > deadline) throw new Error(`no PCH built in ${cache}: ${files.join(' ')}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

test('a cold compile and a cache hit give the same object', () => {
  const unique = `${process.pid}-${Date.now()}`;
  const a = compile({ text: `// ${unique}\n${text(1)}`, name: 'cold.bpf.c' });
  const b = compile({ text: `// ${unique}\n${text(1)}`, name: 'cold.bpf.c' });
  expect(a.cached).toBe(false);
  expect(b.cached).toBe(true);
  expect(b.elf.equals(a.elf)).toBe(true);
});

test('through the precompiled header and without it, the program counts exactly the getppid calls made', () => {
  const cache = tmpDir('bpfkit-cache-');
  try {
    // No PCH yet: this compile parses the headers, then has the PCH built in the background.
    const first = withCache(cache, () => compile({ text: counter('first'), name: 'first_count.bpf.c' }));
    const [pch] = waitForPch(cache);
    expect(pchFiles(cache)).toEqual([pch]); // no lock, temp file or failure marker left
    const viaPch = withCache(cache, () => compile({ text: counter('pch'), name: 'pch_count.bpf.c' }));
    expect(pchFiles(cache)).toEqual([pch]); // accepted: a PCH clang refuses is discarded
    const plain = withCache(cache, () => compile({ text: counter('pch'), name: 'pch_count.bpf.c' }, new ClangCompiler('clang', { usePch: false, useCut: false })));
    expect(plain.elf.equals(viaPch.elf)).toBe(true); // the same object either way
    expect(countGetppid(first.elf, 'first_count')).toEqual({ calls: 25, tgid: process.pid });
    expect(countGetppid(viaPch.elf, 'pch_count')).toEqual({ calls: 25, tgid: process.pid });

    // A corrupt PCH is read, refused, discarded, the program compiled from the headers, and the PCH
    // built again.
    fs.writeFileSync(path.join(cache, 'pch', pch), 'not a precompiled header');
    const afterCorrupt = withCache(cache, () => compile({ text: counter('corrupt'), name: 'corrupt_count.bpf.c' }));
    expect(pchFiles(cache)).not.toContain(pch);
    expect(waitForPch(cache)).toEqual([pch]);
    expect(fs.statSync(path.join(cache, 'pch', pch)).size).toBeGreaterThan(1 << 20);
    expect(countGetppid(afterCorrupt.elf, 'corrupt_count')).toEqual({ calls: 25, tgid: process.pid });
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

test('a changed header makes a new PCH and new objects; a touched one is refused by clang and rebuilt', () => {
  const cache = tmpDir('bpfkit-cache-');
  const headers = tmpDir('bpfkit-include-');
  try {
    for (const f of fs.readdirSync(includeDir)) fs.copyFileSync(path.join(includeDir, f), path.join(headers, f));
    const compiler = () => new ClangCompiler('clang', { includeDir: headers });
    const req = { text: counter('edit'), name: 'edit_count.bpf.c' };
    const first = withCache(cache, () => compile(req, compiler()));
    const [firstPch] = waitForPch(cache);

    // Edited content: another toolchain fingerprint, so a cache miss and another PCH.
    const header = path.join(headers, 'bpfkit.h');
    const source = fs.readFileSync(header, 'utf8');
    const guardEnd = source.lastIndexOf('#endif');
    fs.writeFileSync(header, `${source.slice(0, guardEnd)}const volatile u32 bpfkit_header_edit = 7;\n${source.slice(guardEnd)}`);
    const second = withCache(cache, () => compile(req, compiler()));
    expect(second.cached).toBe(false);
    expect(second.key).not.toBe(first.key);
    expect(first.elf.includes('bpfkit_header_edit')).toBe(false);
    expect(second.elf.includes('bpfkit_header_edit')).toBe(true);
    const secondPch = waitForPch(cache, 2).find(f => f !== firstPch)!;
    const viaSecondPch = withCache(cache, () => compile({ text: counter('edited'), name: 'edited_count.bpf.c' }, compiler()));
    expect(viaSecondPch.elf.includes('bpfkit_header_edit')).toBe(true);

    // Same content, newer mtime: the same PCH name, which clang refuses ("modified since the
    // precompiled header was built"): the compile goes on from the headers and drops the stale PCH...
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(header, later, later);
    const touched = withCache(cache, () => compile({ text: counter('touched'), name: 'touched_count.bpf.c' }, compiler()));
    expect(pchFiles(cache)).not.toContain(secondPch);
    // ...and has it built again in the background.
    expect(waitForPch(cache, 2)).toContain(secondPch);
    expect(countGetppid(touched.elf, 'touched_count')).toEqual({ calls: 25, tgid: process.pid });
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
    fs.rmSync(headers, { recursive: true, force: true });
  }
});

test('concurrent processes compiling on an empty cache share one PCH and leave one valid object', async () => {
  const cache = tmpDir('bpfkit-cache-');
  const script = `import { compile } from ${JSON.stringify(path.join(root, 'lib', 'compile', 'index.ts'))};
const r = compile({ text: ${JSON.stringify(text(4242))}, name: 'race.bpf.c' });
process.stdout.write(r.elf.toString('base64'));`;
  const file = path.join(tmpDir(), 'race.mts');
  fs.writeFileSync(file, script);
  const runs = await Promise.all(Array.from({ length: 4 }, () => new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(root, 'bin', 'bpfkit-node.mjs'), file], { cwd: root, env: { ...process.env, BPFKIT_CACHE: cache } });
    let out = '';
    let err = '';
    c.stdout.on('data', d => (out += d));
    c.stderr.on('data', d => (err += d));
    c.on('exit', code => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  })));
  expect(new Set(runs).size).toBe(1);
  const objs = fs.readdirSync(path.join(cache, 'obj'));
  expect(objs.filter(f => f.endsWith('.o'))).toHaveLength(1);
  expect(objs.filter(f => f.endsWith('.tmp'))).toHaveLength(0);
  expect(fs.readFileSync(path.join(cache, 'obj', objs[0])).toString('base64')).toBe(runs[0]);
  // One of them built the PCH in the background; nothing else is left in its directory.
  expect(waitForPch(cache)).toEqual(pchFiles(cache));
  expect(pchFiles(cache)).toHaveLength(1);
  fs.rmSync(cache, { recursive: true, force: true });
});

test('two cold compiles at once in one process both succeed and both objects count', async () => {
  const cache = tmpDir('bpfkit-cache-');
  try {
    const saved = process.env.BPFKIT_CACHE;
    process.env.BPFKIT_CACHE = cache;
    let results;
    try {
      results = await compileMany([{ text: counter('a'), name: 'a_count.bpf.c' }, { text: counter('b'), name: 'b_count.bpf.c' }], { parallel: 2 });
    } finally {
      if (saved === undefined) delete process.env.BPFKIT_CACHE;
      else process.env.BPFKIT_CACHE = saved;
    }
    for (const [i, r] of results.entries()) {
      if (r instanceof Error) throw r;
      expect(r.cached).toBe(false);
      expect(countGetppid(r.elf, `${'ab'[i]}_count`)).toEqual({ calls: 25, tgid: process.pid });
    }
    expect(waitForPch(cache)).toHaveLength(1);
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

/** clang compiles (not PCH builds) running below `pid`, read from /proc. */
function compilesBelow(pid: number): number {
  const parent = new Map<number, number>();
  const compiles: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      parent.set(+e, Number(stat.slice(close + 2).split(' ')[1]));
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0]).startsWith('clang') && argv.includes('-c')) compiles.push(+e);
    } catch { /* exited meanwhile */ }
  }
  return compiles.filter(p => {
    for (let q = parent.get(p); q && q > 1; q = parent.get(q)) if (q === pid) return true;
    return false;
  }).length;
}

test('setup\'s precompile compiles every tool, two at a time on two CPUs', async () => {
  const cache = tmpDir('bpfkit-cache-');
  try {
    const child = spawn(process.execPath, [path.join(root, 'bin', 'bpfkit-node.mjs'), path.join(root, 'bin', 'precompile.ts')], {
      cwd: root, env: { ...process.env, BPFKIT_CACHE: cache, BPFKIT_PRECOMPILE_JOBS: '2' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', d => (out += d));
    child.stderr.on('data', d => (err += d));
    let mostAtOnce = 0;
    const poll = setInterval(() => (mostAtOnce = Math.max(mostAtOnce, compilesBelow(child.pid!))), 10);
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve));
    clearInterval(poll);
    expect(err).toBe('');
    expect(code).toBe(0);
    const tools = Number(/precompiled (\d+) tools/.exec(out)?.[1]);
    expect(tools).toBeGreaterThanOrEqual(9);
    expect(out).toContain(`precompiled ${tools} tools (${tools} compiled, 0 cached)`);
    expect(fs.readdirSync(path.join(cache, 'obj')).filter(f => f.endsWith('.o'))).toHaveLength(tools);
    expect(mostAtOnce).toBe(2);
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}, 600_000); // every tool from an empty cache: the time grows with the catalogue and the machine's load
