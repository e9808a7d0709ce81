// bench/compile: cold compile of every tool's BPF program (compile() called directly), medians of
// BENCH_RUNS interleaved runs, in ms:
//   object miss   the cache has the toolchain fingerprint and the precompiled header, not the object:
//                 what a generic tool (C generated from its command line) pays at each run;
//   headers       the same compile parsing bpfkit.h + vmlinux.h every time (no PCH): the old path;
//   empty cache   a fresh BPFKIT_CACHE: fingerprint and the compile from the headers, which then
//                 starts the PCH build in the background (once per toolchain/headers).
// The gen-* rows are programs shaped like what the generic tools generate.
// Then setup's precompile of all tools (object cache empty, PCH built): one compile at a time vs one per CPU.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSpecs } from '../lib/cli/catalogue.js';
import { ClangCompiler, compile, compileMany, type CompileRequest } from '../lib/compile/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Waits until no PCH build runs for this cache (its lock file gone). */
async function backgroundBuildDone(cache: string): Promise<void> {
  const dir = path.join(cache, 'pch');
  while (fs.existsSync(dir) && fs.readdirSync(dir).some(f => f.endsWith('.lock'))) await new Promise(r => setTimeout(r, 20));
}

function withCache<T>(dir: string, fn: () => T): T {
  process.env.BPFKIT_CACHE = dir;
  return fn();
}

// Programs of the shape the generic tools (trace, argdist, funccount) generate from a command line.
const generated: CompileRequest[] = [
  { name: 'gen-argdist.bpf.c', text: `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
BPF_HISTOGRAM(dist);
TRACEPOINT_PROBE(syscalls, sys_enter_read) {
	if (targ_tgid && bpfkit_tgid() != targ_tgid) return 0;
	u32 slot = bpf_log2l(args->count);
	map_increment(dist, slot);
	return 0;
}` },
  { name: 'gen-funccount.bpf.c', text: `#include <bpfkit.h>
BPF_ARRAY(counts, u64, 4);
TRACEPOINT_PROBE(syscalls, sys_enter_openat) { u32 k = 0; map_increment(counts, k); return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_read) { u32 k = 1; map_increment(counts, k); return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_write) { u32 k = 2; map_increment(counts, k); return 0; }
TRACEPOINT_PROBE(sched, sched_process_exec) { u32 k = 3; map_increment(counts, k); return 0; }` },
  { name: 'gen-trace.bpf.c', text: `#include <bpfkit.h>
struct event { u32 pid; char comm[16]; u64 flags; char path[64]; };
BPF_RINGBUF_OUTPUT(events, 64);
TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) return 0;
	e->pid = bpfkit_tgid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->flags = args->flags;
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)args->filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}` },
];

const specs = await loadSpecs();
const reqs: CompileRequest[] = specs.map(s => ({ text: s.program, name: `${s.name}.bpf.c` }));
const savedCache = process.env.BPFKIT_CACHE;
const warm = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-cache-'));
const dropObjects = () => fs.rmSync(path.join(warm, 'obj'), { recursive: true, force: true });
const modes = ['object miss', 'headers', 'empty cache'] as const;
const times = new Map<string, Record<(typeof modes)[number], number[]>>();
const pool: Record<string, number[]> = { '1 at a time': [], [`${os.availableParallelism()} at a time`]: [] };
try {
  const withPch = new ClangCompiler();
  const headersOnly = new ClangCompiler('clang', { usePch: false });
  withCache(warm, () => compile({ text: '#include <bpfkit.h>\n', name: 'warm.bpf.c' }, withPch)); // starts the PCH build
  await backgroundBuildDone(warm);
  for (let i = 0; i < runs; i++) {
    for (const req of [...reqs, ...generated]) {
      const t = times.get(req.name) ?? { 'object miss': [], headers: [], 'empty cache': [] };
      times.set(req.name, t);
      dropObjects();
      t['object miss'].push(await timed(() => withCache(warm, () => compile(req, withPch))));
      dropObjects();
      t.headers.push(await timed(() => withCache(warm, () => compile(req, headersOnly))));
      const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-cache-'));
      t['empty cache'].push(await timed(() => withCache(fresh, () => compile(req, new ClangCompiler()))));
      await backgroundBuildDone(fresh); // it would share the CPUs with the next measurement
      fs.rmSync(fresh, { recursive: true, force: true });
    }
    for (const [label, list] of Object.entries(pool)) {
      dropObjects();
      process.env.BPFKIT_CACHE = warm;
      list.push(await timed(() => compileMany(reqs, { parallel: Number(label.split(' ')[0]), compiler: withPch })));
    }
  }
} finally {
  if (savedCache === undefined) delete process.env.BPFKIT_CACHE;
  else process.env.BPFKIT_CACHE = savedCache;
  fs.rmSync(warm, { recursive: true, force: true });
}

const col = (s: string | number) => String(s).padStart(13);
process.stdout.write(`cold compile, median of ${runs} (ms), load ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} CPUs\n`);
process.stdout.write(`${'tool'.padEnd(14)}${modes.map(col).join('')}\n`);
const row = (name: string, t: Record<(typeof modes)[number], number[]>) => process.stdout.write(`${name.padEnd(14)}${modes.map(m => col(median(t[m]).toFixed(0))).join('')}\n`);
const medianRow = (label: string, names: string[]) => {
  const ts = names.map(n => times.get(n)!);
  process.stdout.write(`${label.padEnd(14)}${modes.map(m => col(median(ts.map(t => median(t[m]))).toFixed(0))).join('')}\n`);
};
for (const [name, t] of times) row(name.replace(/\.bpf\.c$/, ''), t);
medianRow('median, tools', reqs.map(r => r.name));
// the slowest tool: the target is a bound for every tool, not for the median
const slowest = (m: (typeof modes)[number]) => Math.max(...reqs.map(r => median(times.get(r.name)![m])));
process.stdout.write(`${'max, tools'.padEnd(14)}${modes.map(m => col(slowest(m).toFixed(0))).join('')}\n`);
medianRow('median, gen-*', generated.map(r => r.name));
process.stdout.write(`precompile of ${reqs.length} tools (PCH built): ${Object.entries(pool).map(([l, xs]) => `${l} ${median(xs).toFixed(0)} ms`).join(', ')}\n`);
