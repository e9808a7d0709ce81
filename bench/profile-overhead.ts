// bench/profile-overhead: what `profile -F 49` costs while it samples every CPU (the target: under 1 %
// of one CPU), against bpftrace's `profile:hz:49 { @[kstack, ustack] = count(); }` in the same run
// (no libbpf-tools profile loads here). Cost = the BPF programs' run time (kernel.bpf_stats_enabled,
// run_time_ns in the fdinfo of the process's program fds) + the process's own CPU time
// (/proc/PID/stat utime + stime), both over the same SECONDS once attached, as a share of one CPU.
// Start-up and the final print are outside the window: they are paid once, not per second sampled.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { programStatsOf } from '../lib/host/bpfstats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';
const TICKS_PER_SECOND = 100; // USER_HZ: /proc/PID/stat counts CPU time in these on Linux
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

interface ProgramStat { id: number; runTimeNs: number; runCount: number }

/** The BPF programs a process holds, with their run-time statistics (lib/host/bpfstats: its fds' fdinfo). */
export const programStats = (pid: number): ProgramStat[] =>
  [...programStatsOf(pid)].map(([id, s]) => ({ id, runTimeNs: s.runTimeNs, runCount: s.runs }));

/** The process's CPU time so far (user + system), in seconds; its threads included. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "(comm)": field 3 onwards
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND; // utime, stime (fields 14, 15)
}

export interface Overhead {
  name: string;
  /** Share of one CPU, in %: the BPF programs', the process's, and their sum. */
  bpfPercent: number; processPercent: number; totalPercent: number;
  /** Program runs in the window (samples taken, idle CPUs included) and the mean cost of one. */
  runs: number; nsPerRun: number;
}

/** Starts `cmd`, waits until its perf_event programs run, then measures SECONDS of sampling. */
export async function measure(name: string, cmd: string[]): Promise<Overhead> {
  const child: ChildProcess = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>(resolve => child.on('exit', () => resolve()));
  try {
    let progs: ProgramStat[] = [];
    for (let i = 0; i < 1500 && !progs.some(p => p.runCount > 0); i++) {
      await sleep(20);
      try { progs = programStats(child.pid!); } catch { /* not yet */ }
    }
    if (!progs.some(p => p.runCount > 0)) throw new Error(`${name}: its programs never ran`);
    await sleep(1000); // settled: start-up work (compiling, symbol tables) done
    const bpf0 = programStats(child.pid!), cpu0 = cpuSeconds(child.pid!), t0 = performance.now();
    await sleep(SECONDS * 1000);
    const bpf1 = programStats(child.pid!), cpu1 = cpuSeconds(child.pid!), wall = (performance.now() - t0) / 1000;
    const sum = (ps: ProgramStat[], k: 'runTimeNs' | 'runCount') => ps.reduce((a, p) => a + p[k], 0);
    const bpfSeconds = (sum(bpf1, 'runTimeNs') - sum(bpf0, 'runTimeNs')) / 1e9;
    const runs = sum(bpf1, 'runCount') - sum(bpf0, 'runCount');
    const bpfPercent = (100 * bpfSeconds) / wall, processPercent = (100 * (cpu1 - cpu0)) / wall;
    return { name, bpfPercent, processPercent, totalPercent: bpfPercent + processPercent, runs, nsPerRun: runs ? (bpfSeconds * 1e9) / runs : 0 };
  } finally {
    child.kill('SIGINT');
    // bpftrace symbolises every stack at exit, which can take minutes on a busy machine: not measured
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
  }
}

export async function profileOverhead(): Promise<Overhead[]> {
  const before = fs.readFileSync(STATS_SYSCTL, 'utf8').trim();
  fs.writeFileSync(STATS_SYSCTL, '1');
  try {
    return [
      await measure('profile -F 49 (bpfkit)', [path.join(projectRoot, 'tools', 'cpu', 'profile.ts'), '-F', '49']),
      await measure('bpftrace profile:hz:49', ['bpftrace', '-e', 'profile:hz:49 { @[kstack, ustack] = count(); }']),
    ];
  } finally {
    fs.writeFileSync(STATS_SYSCTL, before);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const load = os.loadavg()[0];
  for (const r of await profileOverhead()) {
    process.stdout.write(`profile-overhead: ${r.name.padEnd(24)} ${r.totalPercent.toFixed(2)} % of a CPU over ${SECONDS} s ` +
      `(BPF ${r.bpfPercent.toFixed(2)} %: ${r.runs} runs, ${r.nsPerRun.toFixed(0)} ns each; process ${r.processPercent.toFixed(2)} %) ` +
      `at load average ${load.toFixed(1)}${r.name.includes('bpfkit') ? `; target under 1 %: ${r.totalPercent < 1 ? 'met' : 'NOT met'}` : ''}\n`);
  }
}
