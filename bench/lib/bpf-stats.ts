// The per-event cost measurement of the wave benches (bench/wave-*.ts): tracers started side by side,
// their BPF programs found through their fds, and the kernel's own accounting of those programs
// (kernel.bpf_stats_enabled: run_time_ns and run_cnt, as `bpftool prog show` prints them) around a workload.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface Tracer {
  label: string;
  child: ChildProcess;
  output: () => string;
  /** What the tracer prints once attached (default: a banner). */
  ready?: RegExp;
}

export function start(label: string, cmd: string, args: string[], ready?: RegExp): Tracer {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', d => (out += d));
  child.stderr!.on('data', d => (out += d));
  return { label, child, output: () => out, ready };
}
/** The BPF program IDs a process holds (its fds' fdinfo). */
function programsOf(pid: number): number[] {
  const ids = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return [...ids];
}

/** run_time_ns and run_cnt summed over programs. */
function stats(ids: number[]): { ns: number; runs: number } {
  const r = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  const all = JSON.parse(r.stdout || '[]') as { id: number; run_time_ns?: number; run_cnt?: number }[];
  return all.filter(p => ids.includes(p.id)).reduce((a, p) => ({ ns: a.ns + (p.run_time_ns ?? 0), runs: a.runs + (p.run_cnt ?? 0) }), { ns: 0, runs: 0 });
}

/** Waits until each tracer holds its programs (attached: the banner printed and the count stable). */
async function attached(ts: Tracer[]): Promise<Map<Tracer, number[]>> {
  const ids = new Map<Tracer, number[]>();
  for (const t of ts) {
    for (let i = 0; i < 600 && !(t.ready ?? /Hit Ctrl-C|Tracing|PAGES/).test(t.output()); i++) await sleep(50);
    if (t.child.exitCode !== null) throw new Error(`${t.label} exited: ${t.output()}`);
    ids.set(t, programsOf(t.child.pid!));
  }
  return ids;
}

export async function measure(name: string, tracers: Tracer[], work: () => void): Promise<string> {
  const ids = await attached(tracers);
  const before = new Map(tracers.map(t => [t, stats(ids.get(t)!)]));
  work();
  await sleep(300);
  const after = new Map(tracers.map(t => [t, stats(ids.get(t)!)]));
  for (const t of tracers) t.child.kill('SIGINT');
  await Promise.all(tracers.map(t => new Promise(r => (t.child.exitCode !== null ? r(0) : t.child.on('exit', r)))));
  const per = tracers.map(t => {
    const ns = after.get(t)!.ns - before.get(t)!.ns;
    const runs = after.get(t)!.runs - before.get(t)!.runs;
    return { label: t.label, ns, runs, perRun: runs ? ns / runs : 0 };
  });
  const parts = per.map(p => `${p.label} ${p.perRun.toFixed(0)} ns/run (${p.runs} runs, ${(p.ns / 1e6).toFixed(2)} ms)`);
  const ratio = per.length === 2 && per[1].perRun > 0 ? `; per event, ours / libbpf-tools' = ${(per[0].perRun / per[1].perRun).toFixed(2)}` : '';
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
