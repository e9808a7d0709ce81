// The BPF programs and links a process holds, read from its fds' fdinfo: a program fd names its prog_id,
// a link fd its link_id and the program it links. One reader for the kernel tests (helpers.ts), jest's
// global teardown (plain JS that jest loads untransformed: hence JS with a .d.ts beside it) and the benches.
import fs from 'node:fs';

/** The process's BPF program IDs, link count, programs with a link, and perf-event fds. Throws if it is gone. */
export function bpfFdsOf(pid) {
  const programs = new Set();
  const linked = new Set();
  let links = 0;
  let perfEvents = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let info;
    try {
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      // a perf event's fdinfo is empty: its fd's link says what it is
      if (!info.includes('prog_id:') && fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]') perfEvents++;
    } catch {
      continue; // closed meanwhile
    }
    const prog = /^prog_id:\s+(\d+)$/m.exec(info);
    if (/^link_id:/m.test(info)) {
      links++;
      if (prog) linked.add(Number(prog[1]));
    } else if (prog) programs.add(Number(prog[1]));
  }
  return { programs: [...programs], links, linked, perfEvents };
}

/** Whether every program the process loaded has a link: a count of links alone is reached early by a program attached many times. */
export function allProgramsLinked(pid) {
  const { programs, linked } = bpfFdsOf(pid);
  return programs.length > 0 && programs.every(id => linked.has(id));
}

/** Which processes hold each BPF program (by a program or a link fd), over all processes: bpftool may not say. */
export function programHolders() {
  const by = new Map();
  for (const pid of fs.readdirSync('/proc').filter(d => /^\d+$/.test(d)).map(Number)) {
    let fds;
    try {
      fds = bpfFdsOf(pid);
    } catch {
      continue; // gone
    }
    for (const id of new Set([...fds.programs, ...fds.linked])) by.set(id, [...(by.get(id) ?? []), pid]);
  }
  return by;
}
