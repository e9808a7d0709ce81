// naptime on the real kernel: `sleep 0.25` asks for 0.250 s and is shown with exactly that, its PID,
// its parent; -p keeps one process; --json; bad input.
import { spawn } from 'node:child_process';
import { attached, expectUsageErrors, startTool, type Running } from './helpers.js';

const naps = (text: string) => [...text.matchAll(/^\d\d:\d\d:\d\d (\d+) +(.{16}) (\d+) +(.{16}) (\d+\.\d{3})$/gm)]
  .map(m => ({ ppid: Number(m[1]), pcomm: m[2].trim(), pid: Number(m[3]), comm: m[4].trim(), seconds: m[5] }));

/** Runs `sleep <seconds>` while the tools trace; its PID once it has exited and every tool has shown it. */
async function sleepTraced(seconds: string, tools: Running[], shown: (t: Running, pid: number) => RegExp): Promise<number> {
  await Promise.all(tools.map(t => attached(t)));
  const s = spawn('sleep', [seconds], { stdio: 'ignore' });
  await new Promise(r => s.once('exit', r));
  for (const t of tools) await t.waitFor(shown(t, s.pid!));
  return s.pid!;
}

test('sleep 0.25: one 0.250 s nap by that PID, its parent this process; -p PID sees only it', async () => {
  const all = startTool('naptime');
  const other = startTool('naptime', ['-p', String(process.pid)]);
  const pid = await sleepTraced('0.25', [all], (_t, p) => new RegExp(`^\\S+ +\\d+ +.{16} ${p} `, 'm'));
  expect(all.stdout().split('\n').slice(0, 2)).toEqual(['Tracing sleeps. Hit Ctrl-C to end.',
    'TIME     PPID   PCOMM            PID    COMM             SECONDS']);
  expect(naps(all.stdout()).filter(n => n.pid === pid)).toEqual([{ ppid: process.pid, pcomm: expect.any(String), pid, comm: 'sleep', seconds: '0.250' }]);
  expect(await Promise.all([all.stop(), other.stop()])).toEqual([0, 0]);
  expect(naps(other.stdout()).every(n => n.pid === process.pid)).toBe(true);
  expect(naps(other.stdout()).some(n => n.pid === pid)).toBe(false);
});

test('--json: the nap as an event record', async () => {
  const t = startTool('naptime', ['--json']);
  const pid = await sleepTraced('0.125', [t], (_t, p) => new RegExp(`"pid":${p},`));
  expect(await t.stop()).toBe(0);
  const records = t.stdout().trim().split('\n').map(l => JSON.parse(l)).filter(r => r.pid === pid);
  expect(records).toEqual([expect.objectContaining({ tool: 'naptime', kind: 'event', ppid: process.pid, comm: 'sleep', seconds: 0.125 })]);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('naptime', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['extra']]);
});
