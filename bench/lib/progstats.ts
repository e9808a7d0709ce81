// What the wave benches share: a process's BPF program statistics (bpf_stats, from its fds' fdinfo) and
// tracers started until they say they trace.
import { spawn, type ChildProcess } from 'node:child_process';
import { programStatsTotal } from '../../lib/host/bpfstats.js';

export interface ProgStats { runNs: number; runs: number }

/** The run time and run count of every BPF program the process holds, summed. */
export function statsOf(pid: number): ProgStats {
  const t = programStatsTotal(pid);
  return { runNs: t.runTimeNs, runs: t.runs };
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
