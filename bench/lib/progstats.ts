// What the wave benches share: a process's BPF program statistics (bpf_stats, from its fds' fdinfo) and
// tracers started until they say they trace.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ProgStats { runNs: number; runs: number }

/** The run time and run count of every BPF program the process holds, summed (from its fds' fdinfo). */
export function statsOf(pid: number): ProgStats {
  const seen = new Map<number, ProgStats>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = /^prog_id:\s+(\d+)$/m.exec(info);
    if (!id || /^link_id:/m.test(info)) continue;
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(info)?.[1] ?? 0);
    seen.set(Number(id[1]), { runNs: field('run_time_ns'), runs: field('run_cnt') });
  }
  return [...seen.values()].reduce((a, p) => ({ runNs: a.runNs + p.runNs, runs: a.runs + p.runs }), { runNs: 0, runs: 0 });
}

export function start(cmd: string, args: string[]): { child: ChildProcess; ready: Promise<void> } {
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
