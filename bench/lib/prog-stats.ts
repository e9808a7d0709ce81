// The per-event cost of tools' BPF programs from the kernel's own accounting (kernel.bpf_stats_enabled:
// run_time_ns and run_cnt per program, in the holding process's fdinfo): tracers run side by side over
// one workload, each figure is the run time per program run, and a pair prints ours / the reference's.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../lib/compile/index.js';
import { programStatsTotal } from '../../lib/host/bpfstats.js';
import { findToolFile } from '../../test/kernel/helpers.js';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface Tracer { label: string; child: ChildProcess; output: () => string }

function start(label: string, cmd: string, args: string[]): Tracer {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', d => (out += d));
  child.stderr!.on('data', d => (out += d));
  return { label, child, output: () => out };
}

export const ours = (tool: string, args: string[] = []) =>
  start(`bpfkit ${tool}`, path.join(projectRoot, 'bin', 'bpfkit-node'), [findToolFile(tool), ...args]);
export const libbpfTool = (tool: string, args: string[] = []) => start(`libbpf-tools ${tool}`, 'stdbuf', ['-oL', `/usr/sbin/${tool}`, ...args]);
/** bpftrace running a script file (/usr/sbin/*.bt) or a program text (-e). */
export const bpftrace = (label: string, args: string[]) => start(`bpftrace ${label}`, 'bpftrace', args);

interface Stats { ns: number; runs: number }

/** run_time_ns and run_cnt of the programs a process holds, summed. */
function statsOf(pid: number): Stats {
  const t = programStatsTotal(pid);
  return { ns: t.runTimeNs, runs: t.runs };
}

/** Waits until each tracer has printed its banner (attached by then). */
async function attached(ts: Tracer[]): Promise<void> {
  for (const t of ts) {
    for (let i = 0; i < 600 && !/Hit Ctrl-C|Ctrl-C to end|Tracing|Sampling/.test(t.output()); i++) await sleep(50);
    if (t.child.exitCode !== null) throw new Error(`${t.label} exited: ${t.output()}`);
  }
  await sleep(200); // bpftrace prints its banner from BEGIN, a moment before its last attachment
}

/** Runs `work` under the tracers; one line: each one's ns per program run, and ours / the reference's. */
export async function measure(name: string, tracers: Tracer[], work: () => void | Promise<void>): Promise<string> {
  await attached(tracers);
  const before = tracers.map(t => statsOf(t.child.pid!));
  await work();
  await sleep(300);
  const after = tracers.map(t => statsOf(t.child.pid!));
  for (const t of tracers) t.child.kill('SIGINT');
  await Promise.all(tracers.map(t => new Promise(r => (t.child.exitCode !== null ? r(0) : t.child.on('exit', r)))));
  const per = tracers.map((t, i) => {
    const ns = after[i].ns - before[i].ns;
    const runs = after[i].runs - before[i].runs;
    return { label: t.label, ns, runs, perRun: runs ? ns / runs : 0 };
  });
  const parts = per.map(p => `${p.label} ${p.perRun.toFixed(0)} ns/run (${p.runs} runs)`);
  const ratio = per.length === 2 && per[1].perRun > 0 ? `; ours / reference = ${(per[0].perRun / per[1].perRun).toFixed(2)}` : '';
  return `${name}: ${parts.join(', ')}${ratio}`;
}

/** Runs `body` with kernel.bpf_stats_enabled on, restoring it after. */
export async function withBpfStats<T>(body: () => Promise<T>): Promise<T> {
  const sysctl = '/proc/sys/kernel/bpf_stats_enabled';
  const was = fs.readFileSync(sysctl, 'utf8').trim();
  fs.writeFileSync(sysctl, '1');
  try {
    return await body();
  } finally {
    fs.writeFileSync(sysctl, was);
  }
}
