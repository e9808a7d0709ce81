// The BPF programs a process holds and the kernel's accounting of each, read from its fds' fdinfo:
// run_time_ns and run_cnt (counted while kernel.bpf_stats_enabled=1) and recursion_misses (events
// skipped because the program was already running on that CPU). Links name their program too: each
// program is counted once, by its ID.

export interface ProgramStats { runTimeNs: number; runs: number; missed: number }

export function programStatsOf(pid: number): Map<number, ProgramStats> {
  const fs = process.getBuiltinModule('node:fs');
  const byId = new Map<number, ProgramStats>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return byId; // gone
  }
  for (const fd of fds) {
    let info: string;
    try {
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = /^prog_id:\s+(\d+)$/m.exec(info);
    if (!id || /^link_id:/m.test(info)) continue;
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(info)?.[1] ?? 0);
    byId.set(Number(id[1]), { runTimeNs: field('run_time_ns'), runs: field('run_cnt'), missed: field('recursion_misses') });
  }
  return byId;
}

/** The process's programs' statistics, summed. */
export function programStatsTotal(pid: number): ProgramStats {
  let total = { runTimeNs: 0, runs: 0, missed: 0 };
  for (const s of programStatsOf(pid).values()) total = { runTimeNs: total.runTimeNs + s.runTimeNs, runs: total.runs + s.runs, missed: total.missed + s.missed };
  return total;
}
