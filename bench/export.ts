// bench/export: what bpfkit export costs. (1) With the default config (config/bpfkit-export.yaml) for
// BENCH_SECONDS (default 60) after start-up: CPU of the exporter process itself and of its tools, as a
// share of one CPU, against libbpf-tools' runqlat, biolatency -D and syscount run alone at the same
// interval for the same time (the tools bpfkit export runs that libbpf-tools has). (2) A scrape of
// 10,000 series: /metrics rendered and fetched over HTTP, median of 20.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { Metric, renderMetrics } from '../lib/export/index.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const ticks = 100; // USER_HZ

/** utime+stime of a process, seconds (0 once it is gone). */
function cpuOf(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / ticks;
  } catch {
    return 0;
  }
}
const childrenOf = (pid: number) => spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);

async function measure(label: string, start: () => ChildProcess[], settleMs: number): Promise<{ self: number; tools: number }> {
  const procs = start();
  await sleep(settleMs);
  const tree = () => procs.flatMap(p => [p.pid!, ...childrenOf(p.pid!)]);
  const self0 = cpuOf(procs[0]!.pid!);
  const before = new Map(tree().map(pid => [pid, cpuOf(pid)]));
  await sleep(seconds * 1000);
  const self = (cpuOf(procs[0]!.pid!) - self0) / seconds;
  let all = 0;
  for (const pid of tree()) all += cpuOf(pid) - (before.get(pid) ?? 0);
  for (const p of procs) p.kill('SIGINT');
  await Promise.all(procs.map(p => new Promise(r => (p.exitCode !== null ? r(0) : p.on('exit', r)))));
  const out = { self, tools: all / seconds - (label === 'bpfkit export' ? self : 0) };
  return out;
}

const exporter = await measure('bpfkit export', () => [spawn(path.join(projectRoot, 'bin', 'bpfkit'), ['export', '--listen', '127.0.0.1:19439'], { stdio: 'ignore' })], 15_000);
const reference = await measure('libbpf-tools', () => [
  spawn('/usr/sbin/runqlat', ['5'], { stdio: 'ignore' }),
  spawn('/usr/sbin/biolatency', ['-D', '5'], { stdio: 'ignore' }),
  spawn('/usr/sbin/syscount', ['-i', '5'], { stdio: 'ignore' }),
], 3000);
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
console.log(`export, default config, ${seconds} s: exporter process ${pct(exporter.self)} of a CPU, its 5 tools ${pct(exporter.tools)}; ` +
  `libbpf-tools runqlat + biolatency -D + syscount at 5 s intervals ${pct(reference.self + reference.tools)} ` +
  (reference.self + reference.tools >= 1 / ticks / seconds ? `(ratio ${(exporter.tools / (reference.self + reference.tools)).toFixed(1)}x, 5 tools vs 3)` : '(below the 10 ms CPU-time resolution: no ratio)') +
  '; BPF programs\' own time is the traced tasks\', not these processes\' (bpfkit_tool_bpf_run_seconds_total shows it)');

// (2) 10,000 series: 10 counters x 1,000 label values each
const metrics = Array.from({ length: 10 }, (_, i) => new Metric({ name: `bench_${i}_total`, type: 'counter', help: 'bench', labels: ['key'], value: 'n', maxSeries: 1e6, place: 'bench' }, 'bench'));
for (const m of metrics) m.addRows(Array.from({ length: 1000 }, (_, k) => ({ key: `value-${k}`, n: k })), 'counter');
const server = http.createServer((_, res) => res.end(renderMetrics([{ metrics, labels: { tool: 'bench', args: '' }, up: true, restarts: 0, lost: 0, bpfStats: () => ({ runTimeNs: 0, runs: 0, missed: 0 }) }]))).listen(19440, '127.0.0.1');
await new Promise(r => server.once('listening', r));
const times: number[] = [];
let lines = 0;
for (let i = 0; i < 20; i++) {
  const t0 = performance.now();
  const body = await (await fetch('http://127.0.0.1:19440/metrics')).text();
  times.push(performance.now() - t0);
  lines = body.split('\n').filter(l => l && !l.startsWith('#')).length;
}
server.close();
times.sort((a, b) => a - b);
console.log(`export, a scrape of ${lines} series: median ${times[10]!.toFixed(1)} ms, slowest ${times.at(-1)!.toFixed(1)} ms (target: under 100 ms)`);
