// bench/exit: how long a tool takes to exit on Ctrl-C once attached (what a user waits for after ^C),
// and how long until its programs are gone from the kernel, ours against libbpf-tools' in the same run
// (alternating, medians of BENCH_RUNS). Tracepoint perf events are slow for the kernel to release
// (BPF.closeForExit hands them to a reaper): opensnoop attaches 6, vfsstat 12.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { bpfFdsOf } from '../test/bpf-fds.js';

const runs = Number(process.env.BENCH_RUNS ?? 7);
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The BPF program ids a process holds (fdinfo of its bpf-prog fds). */
const programsOf = (pid: number): number[] => bpfFdsOf(pid).programs;

function loadedIds(): Set<number> {
  const out = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' }).stdout;
  return new Set((JSON.parse(out || '[]') as { id: number }[]).map(p => p.id));
}

async function once(cmd: string[]): Promise<{ exitMs: number; goneMs: number }> {
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
  const exited = new Promise<void>(resolve => child.on('exit', () => resolve()));
  let progs: number[] = [];
  for (let i = 0; i < 600 && progs.length === 0; i++) {
    await sleep(20);
    try { progs = programsOf(child.pid!); } catch { /* not yet */ }
  }
  await sleep(1000); // attached: all links made after the programs load
  const t0 = performance.now();
  child.kill('SIGINT');
  await exited;
  const exitMs = performance.now() - t0;
  while (progs.some(id => loadedIds().has(id))) await sleep(10);
  return { exitMs, goneMs: performance.now() - t0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const cases: [string, string[]][] = [
  ['opensnoop (bpfkit)', [path.join(projectRoot, 'tools', 'fs', 'opensnoop.ts')]],
  ['opensnoop (libbpf-tools)', ['/usr/sbin/opensnoop']],
  ['vfsstat (bpfkit)', [path.join(projectRoot, 'tools', 'fs', 'vfsstat.ts')]],
];
const results = new Map<string, { exitMs: number; goneMs: number }[]>(cases.map(([n]) => [n, []]));
for (let i = 0; i < runs; i++) for (const [name, cmd] of cases) results.get(name)!.push(await once(cmd));
const row = (name: string) => {
  const r = results.get(name)!;
  return { exit: median(r.map(x => x.exitMs)), gone: median(r.map(x => x.goneMs)) };
};
for (const [name] of cases) {
  const r = row(name);
  console.log(`exit: ${name.padEnd(26)} exits ${r.exit.toFixed(0).padStart(4)} ms after SIGINT, programs gone after ${r.gone.toFixed(0).padStart(4)} ms`);
}
const ours = row('opensnoop (bpfkit)'), ref = row('opensnoop (libbpf-tools)');
console.log(`exit: opensnoop exit time ratio bpfkit/libbpf-tools ${(ours.exit / ref.exit).toFixed(2)} (median of ${runs})`);
