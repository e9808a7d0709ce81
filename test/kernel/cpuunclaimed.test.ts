// cpuunclaimed on the real kernel. One busy loop pinned to each CPU: no CPU is ever idle, so exactly
// 0.00% unclaimed and 100.00% CPU. Two loops pinned to CPU 1: CPU 1 always has one queued behind
// the other, so a group is unclaimed exactly when CPU 0 is idle: the figure is half CPU 0's idle share
// as /proc/stat counts it over the same seconds (sampling error allowed), and -J's raw groups all
// show CPU 1's queue at 2 or more.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, startTool, waitUntil } from './helpers.js';

const ncpu = os.cpus().length;
let hogs: ChildProcess[] = [];
async function pinnedLoops(cpus: number[]): Promise<void> {
  hogs = cpus.map(c => spawn('taskset', ['-c', String(c), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
  await waitUntil(() => hogs.every(h => fs.readFileSync(`/proc/${h.pid}/comm`, 'utf8').trim() === 'sh'), 'the pinned loops to start');
}
afterEach(() => hogs.forEach(h => h.kill('SIGKILL')));

/** CPU 0's idle and total jiffies from /proc/stat (idle + iowait: its queue is empty then). */
function cpu0(): { idle: number; total: number } {
  const f = /^cpu0 (.*)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))![1].trim().split(/\s+/).map(Number);
  return { idle: f[3] + f[4], total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
}

const summary = (out: string) => [...out.matchAll(/^%CPU +(\d+\.\d\d)%, unclaimed idle (\d+\.\d\d)%$/gm)].map(m => ({ cpu: +m[1], unclaimed: +m[2] }));

(ncpu === 2 ? describe : describe.skip)('on two CPUs', () => {
  test('a loop pinned to each CPU: 100.00% CPU and exactly 0.00% unclaimed; --json', async () => {
    await pinnedLoops([0, 1]);
    const t = startTool('cpuunclaimed', ['1', '2']);
    const j = startTool('cpuunclaimed', ['--json', '1', '1']);
    expect(await Promise.all([t.exited, j.exited])).toEqual([0, 0]);
    expect(t.stdout().split('\n')[0]).toBe('Sampling run queues... Output every 1 seconds. Hit Ctrl-C to end.');
    expect(summary(t.stdout())).toEqual([{ cpu: 100, unclaimed: 0 }, { cpu: 100, unclaimed: 0 }]);
    const r = JSON.parse(j.stdout().trim());
    expect(validateRecord(r)).toEqual([]);
    expect(r).toMatchObject({ tool: 'cpuunclaimed', kind: 'counts', rows: [{ cpu_percent: 100, unclaimed_idle_percent: 0 }] });
  });

  test('two loops pinned to CPU 1: unclaimed is half of CPU 0\'s idle share; -J: CPU 1 queue >= 2 in every group', async () => {
    await pinnedLoops([1, 1]);
    const t = startTool('cpuunclaimed', ['2', '1']);
    const raw = startTool('cpuunclaimed', ['-J']);
    await t.waitFor(/Hit Ctrl-C/);
    const before = cpu0();
    expect(await t.exited).toBe(0);
    const after = cpu0();
    await raw.waitFor(/^\d+,\d+,\d+,\d+,\d+$/m);
    expect(await raw.stop()).toBe(0);
    const idleShare = (100 * (after.idle - before.idle)) / (after.total - before.total);
    const [{ unclaimed }] = summary(t.stdout());
    console.log(`cpuunclaimed: ${unclaimed}% unclaimed; CPU 0 idle ${idleShare.toFixed(1)}% (/proc/stat)`);
    expect(Math.abs(unclaimed - idleShare / 2)).toBeLessThan(10);
    if (idleShare > 30) expect(unclaimed).toBeGreaterThan(5);
    const lines = raw.stdout().trim().split('\n');
    expect(lines[0]).toBe('TIMESTAMP_ns,CPU0,CPU1,OFFSET_ns_CPU0,OFFSET_ns_CPU1');
    const groups = lines.slice(1).map(l => l.split(',').map(Number));
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) expect({ g, cpu1: g[2] >= 2 }).toEqual({ g, cpu1: true });
  });
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('cpuunclaimed', [['-j', '1'], ['-J', '2', '3'], ['0'], ['1', '0'], ['--nosuch']]);
});
