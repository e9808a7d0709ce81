// bench/compile: cold compile time of every tool's BPF program (median of N), compile() called directly.
// "object miss": the cache has the toolchain fingerprint (and precompiled header) but not the object —
// what a generic tool (C generated from its command line) pays at each run. "empty cache": a fresh
// BPFKIT_CACHE, so the first compile also builds what the cache keeps for every later one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSpecs } from '../lib/cli/catalogue.js';
import { ClangCompiler, compile } from '../lib/compile/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const specs = await loadSpecs();
const savedCache = process.env.BPFKIT_CACHE;
const warmCache = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-cache-'));
const rows: { name: string; miss: number; empty: number }[] = [];
try {
  process.env.BPFKIT_CACHE = warmCache;
  const warmCompiler = new ClangCompiler();
  compile({ text: '#include <bpfkit.h>\n', name: 'warm.bpf.c' }, warmCompiler);
  for (const s of specs) {
    const req = { text: s.program, name: `${s.name}.bpf.c` };
    const miss: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < runs; i++) {
      process.env.BPFKIT_CACHE = warmCache;
      fs.rmSync(path.join(warmCache, 'obj'), { recursive: true, force: true });
      miss.push(timed(() => compile(req, warmCompiler)));
      const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-cache-'));
      process.env.BPFKIT_CACHE = fresh;
      empty.push(timed(() => compile(req, new ClangCompiler())));
      fs.rmSync(fresh, { recursive: true, force: true });
    }
    rows.push({ name: s.name, miss: median(miss), empty: median(empty) });
  }
} finally {
  if (savedCache === undefined) delete process.env.BPFKIT_CACHE;
  else process.env.BPFKIT_CACHE = savedCache;
  fs.rmSync(warmCache, { recursive: true, force: true });
}
process.stdout.write(`cold compile, median of ${runs} (ms): tool, object miss, empty cache\n`);
for (const r of rows) process.stdout.write(`  ${r.name.padEnd(12)} ${r.miss.toFixed(0).padStart(6)} ${r.empty.toFixed(0).padStart(6)}\n`);
process.stdout.write(`  ${'median'.padEnd(12)} ${median(rows.map(r => r.miss)).toFixed(0).padStart(6)} ${median(rows.map(r => r.empty)).toFixed(0).padStart(6)}\n`);
