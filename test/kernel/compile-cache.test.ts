// The compile cache: content-addressed and safe under concurrent runs (compile times: bench/).
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../../lib/compile/index.js';
import { root, tmpDir } from './helpers.js';

const text = (n: number) => `#include <bpfkit.h>
BPF_HASH(counts, u32, u64);
SEC("tracepoint/syscalls/sys_enter_getpid") int t(void *ctx) { u32 k = ${n}; map_increment(counts, k); return 0; }`;

test('a cold compile makes the object; the second is a cache hit with the same bytes', () => {
  const unique = randomInt(1, 2 ** 31); // a program no earlier run can have cached
  const t0 = performance.now();
  const a = compile({ text: text(unique), name: 'cold.bpf.c' });
  const cold = performance.now() - t0;
  const t1 = performance.now();
  const b = compile({ text: text(unique), name: 'cold.bpf.c' });
  const warm = performance.now() - t1;
  process.stdout.write(`compile: cold ${cold.toFixed(0)} ms, cached ${warm.toFixed(1)} ms\n`);
  expect(a.cached).toBe(false);
  expect(b.cached).toBe(true);
  expect(b.elf.equals(a.elf)).toBe(true);
});

test('concurrent processes compiling the same program leave one valid object', async () => {
  const cache = tmpDir('bpfkit-cache-');
  const script = `import { compile } from ${JSON.stringify(path.join(root, 'lib', 'compile', 'index.ts'))};
const r = compile({ text: ${JSON.stringify(text(4242))}, name: 'race.bpf.c' });
process.stdout.write(r.elf.toString('base64'));`;
  const runs = await Promise.all(Array.from({ length: 4 }, () => new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, env: { ...process.env, BPFKIT_CACHE: cache } });
    let out = '';
    c.stdout.on('data', d => (out += d));
    c.on('exit', code => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
  })));
  expect(new Set(runs).size).toBe(1);
  const objs = fs.readdirSync(path.join(cache, 'obj'));
  expect(objs.filter(f => f.endsWith('.o'))).toHaveLength(1);
  expect(objs.filter(f => f.endsWith('.tmp'))).toHaveLength(0);
  expect(fs.readFileSync(path.join(cache, 'obj', objs[0])).toString('base64')).toBe(runs[0]);
  fs.rmSync(cache, { recursive: true, force: true });
});
