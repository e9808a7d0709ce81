// bpflist on the real kernel: a running pidpersec (one program, its maps) is listed under its PID with
// the counts bpftool gives for that PID; a uprobe this test creates in tracefs under BCC's naming
// ("_bcc_PID") is counted for that PID with -v and listed with -vv.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tracefsDir } from '../../lib/compile/tracepoints.js';
import { validateRecord } from '../../lib/output/index.js';
import { attached, bpfFdsOf, expectUsageErrors, runTool, startTool } from './helpers.js';

/** The process's map fds, by their fdinfo (a second source: bpflist reads the fd links). */
function mapFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fdinfo`).filter(fd => /^map_type:/m.test(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))).length;
}

/** The names bpftool gives the loaded programs of these IDs. */
function bpftoolNames(ids: number[]): string[] {
  const list = JSON.parse(spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' }).stdout) as { id: number; name: string }[];
  return list.filter(p => ids.includes(p.id)).map(p => p.name);
}

const rowsOf = (out: string, pid: number) =>
  [...out.matchAll(new RegExp(`^${pid} +(\\S+) +(\\S+) +(\\d+)$`, 'gm'))].map(m => ({ comm: m[1], type: m[2], count: Number(m[3]) }));

test('a running tool: its PID with its 1 prog (bpftool names it) and its map fds; -v/-vv its uprobe; --json', async () => {
  const tool = startTool('pidpersec');
  await attached(tool);
  const pid = tool.child.pid!;
  const uprobes = path.join(tracefsDir(), 'uprobe_events');
  const probe = `p__bin_true_0x1000_bcc_${pid}`;
  fs.appendFileSync(uprobes, `p:uprobes/${probe} /bin/true:0x1000\n`);
  try {
    const plain = runTool('bpflist', []);
    const verbose = runTool('bpflist', ['-v']);
    const listed = runTool('bpflist', ['-vv']);
    const json = runTool('bpflist', ['--json']);
    expect(plain.code).toBe(0);
    expect(plain.stdout.split('\n')[0]).toMatch(/^PID    COMM             TYPE +COUNT$/);
    const maps = mapFds(pid);
    expect(maps).toBeGreaterThan(0);
    // pidpersec's one program, as bpftool names it (Debian's bpftool cannot tell which PIDs hold it)
    expect(bpftoolNames(bpfFdsOf(pid).programs)).toEqual(['tracepoint__sched__sched_process_fork']);
    expect(rowsOf(plain.stdout, pid)).toEqual(expect.arrayContaining([{ comm: 'node-MainThread', type: 'prog', count: 1 }, { comm: 'node-MainThread', type: 'map', count: maps }]));
    expect(rowsOf(plain.stdout, pid).map(r => r.type).sort()).toEqual(['map', 'prog']);
    expect(rowsOf(verbose.stdout, pid)).toContainEqual({ comm: 'node-MainThread', type: 'uprobe', count: 1 });
    expect(listed.stdout).toMatch(new RegExp(`^open uprobes:\\np:uprobes/${probe} /bin/true:0x0+1000$`, 'm'));
    expect(rowsOf(listed.stdout, pid)).toContainEqual({ comm: 'node-MainThread', type: 'uprobe', count: 1 });
    const records = json.stdout.trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records.filter(r => r.pid === pid)).toEqual(expect.arrayContaining([expect.objectContaining({ tool: 'bpflist', kind: 'event', type: 'prog', count: 1 })]));
  } finally {
    fs.appendFileSync(uprobes, `-:uprobes/${probe}\n`);
    await tool.stop();
  }
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('bpflist', [['--nosuch'], ['extra']]);
});
