// What the wave benches share: tracers started side by side, their BPF programs found by their fds, and
// the kernel's own accounting of those programs (kernel.bpf_stats_enabled: run_time_ns and run_cnt, in
// the holding process's fdinfo) before and after a workload: time per program run, and the ratio
// ours / the reference's when two tracers ran.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../lib/compile/index.js';
import { programStatsOf, programStatsTotal } from '../../lib/host/bpfstats.js';
import { findToolFile } from '../../test/kernel/helpers.js';

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface Tracer {
  label: string;
  child: ChildProcess;
  output: () => string;
  /** What this tracer prints once attached, where it is not measure()'s `ready`. */
  ready?: RegExp;
}

export function start(label: string, cmd: string, args: string[], ready?: RegExp): Tracer {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', d => (out += d));
  child.stderr!.on('data', d => (out += d));
  return { label, child, output: () => out, ready };
}

export const ours = (tool: string, args: string[] = []) =>
  start(`bpfkit ${tool}`, path.join(projectRoot, 'bin', 'bpfkit-node'), [findToolFile(tool), ...args]);
export const libbpfTool = (tool: string, args: string[] = []) => start(`libbpf-tools ${tool}`, 'stdbuf', ['-oL', `/usr/sbin/${tool}`, ...args]);
/** bpftrace running a script file (/usr/sbin/*.bt) or a program text (-e). */
export const bpftrace = (label: string, args: string[]) => start(`bpftrace ${label}`, 'bpftrace', args);

/** The BPF program IDs a process holds (its fds' fdinfo). */
const programsOf = (pid: number): number[] => [...programStatsOf(pid).keys()];

/** run_time_ns and run_cnt of these programs of a process, summed. */
function stats(pid: number, ids: number[]): { ns: number; runs: number } {
  const all = programStatsOf(pid);
  return ids.reduce((acc, id) => ({ ns: acc.ns + (all.get(id)?.runTimeNs ?? 0), runs: acc.runs + (all.get(id)?.runs ?? 0) }), { ns: 0, runs: 0 });
}

/** The run time and run count of every BPF program a process holds, summed. */
export function statsOf(pid: number): { runNs: number; runs: number } {
  const t = programStatsTotal(pid);
  return { runNs: t.runTimeNs, runs: t.runs };
}

/** A tracer started, and a promise resolved once it says it traces ("Tracing...", or a TIME header). */
export function startTracing(cmd: string, args: string[]): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', d => {
      out += d;
      if (/Tracing|^TIME/m.test(out)) resolve();
    });
    child.once('exit', code => reject(new Error(`${cmd} ${args.join(' ')} exited (${code}) before tracing`)));
  });
  child.stdout!.resume();
  return { child, ready };
}

/** Waits until each tracer holds its programs (attached: the banner printed and the count stable). */
async function attached(ts: Tracer[], ready: RegExp): Promise<Map<Tracer, number[]>> {
  const ids = new Map<Tracer, number[]>();
  for (const t of ts) {
    for (let i = 0; i < 600 && !(t.ready ?? ready).test(t.output()); i++) await sleep(50);
    if (t.child.exitCode !== null) throw new Error(`${t.label} exited: ${t.output()}`);
    ids.set(t, programsOf(t.child.pid!));
  }
  return ids;
}

interface ProgramRuns { label: string; ns: number; runs: number }

/** Each tracer's BPF run time and run count over one run of `work`, the tracers stopped after. */
async function runsOver(tracers: Tracer[], work: () => void | Promise<void>, ready: RegExp): Promise<ProgramRuns[]> {
  const ids = await attached(tracers, ready);
  const before = new Map(tracers.map(t => [t, stats(t.child.pid!, ids.get(t)!)]));
  await work();
  await sleep(300);
  const after = new Map(tracers.map(t => [t, stats(t.child.pid!, ids.get(t)!)]));
  for (const t of tracers) t.child.kill('SIGINT');
  await Promise.all(tracers.map(t => new Promise(r => (t.child.exitCode !== null ? r(0) : t.child.on('exit', r)))));
  return tracers.map(t => ({ label: t.label, ns: after.get(t)!.ns - before.get(t)!.ns, runs: after.get(t)!.runs - before.get(t)!.runs }));
}

/** The bench line: each tracer's time per run, and ours / the reference's where there are two. */
function report(name: string, per: ProgramRuns[], counted: (p: ProgramRuns) => string): string {
  const perRun = per.map(p => (p.runs ? p.ns / p.runs : 0));
  const parts = per.map((p, i) => `${p.label} ${perRun[i]!.toFixed(0)} ns/run (${counted(p)})`);
  const theirs = per[1]?.label.split(' ')[0] ?? ''; // "libbpf-tools", "bpftrace"
  const ratio = per.length === 2 && perRun[1]! > 0 ? `; per event, ours / ${theirs}${theirs.endsWith('s') ? "'" : "'s"} = ${(perRun[0]! / perRun[1]!).toFixed(2)}` : '';
  return `${name}: ${parts.join(', ')}${ratio}`;
}

/** `ready`: what each tracer prints once attached (a banner; bpftrace's "Attaching N probes" comes before it does). */
export async function measure(name: string, tracers: Tracer[], work: () => void | Promise<void>, ready = /Hit Ctrl-C|Tracing|PAGES/): Promise<string> {
  return report(name, await runsOver(tracers, work, ready), p => `${p.runs} runs, ${(p.ns / 1e6).toFixed(2)} ms`);
}

/**
 * measure() for tracers that run one at a time, in turns (ours, theirs, ours, theirs...), each round on
 * its own run of `work`, summed: where two tracers share each event (a uprobe's consumers), the one run
 * first pays the cold caches for both, which side by side makes the order of attaching the result.
 */
export async function measureInTurns(name: string, tracers: (() => Tracer)[], work: () => void | Promise<void>, rounds = 3, ready = /Hit Ctrl-C|Tracing|PAGES/): Promise<string> {
  const totals: ProgramRuns[] = tracers.map(() => ({ label: '', ns: 0, runs: 0 }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, make] of tracers.entries()) {
      const [r] = await runsOver([make()], work, ready);
      totals[i] = { label: r!.label, ns: totals[i]!.ns + r!.ns, runs: totals[i]!.runs + r!.runs };
    }
  }
  return report(name, totals, p => `${p.runs} runs in ${rounds} turns`);
}

/** Runs `body` with kernel.bpf_stats_enabled on, restoring its value after. */
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
