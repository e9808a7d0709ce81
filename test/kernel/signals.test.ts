// signals on the real kernel: N SIGUSR1 sent to a shell that ignores them (generated all the same),
// then one SIGKILL, counted exactly under that PID and comm; a kill -USR1 of a sleeper; -p; --json;
// bad input.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { attached, expectUsageErrors, startTool, waitUntil } from './helpers.js';
import { kill, sleeper } from './signals-work.js';

const N = 5;
const counted = (text: string) => [...text.matchAll(/^@\[(\w+(?:\+\d+)?), (-?\d+), (.*)\]: (\d+)$/gm)]
  .map(m => ({ sig: m[1], pid: Number(m[2]), comm: m[3], count: Number(m[4]) }));

/** A shell ignoring SIGUSR1, sent N of them and then SIGKILL; resolves once it is gone. */
async function ignorer(): Promise<number> {
  const sh = spawn('sh', ['-c', 'trap "" USR1; while :; do sleep 1; done'], { stdio: 'ignore' });
  const gone = new Promise(r => sh.once('exit', r));
  // the trap is set once sh runs its loop: its child sleep is there
  await waitUntil(() => fs.readFileSync(`/proc/${sh.pid}/task/${sh.pid}/children`, 'utf8').trim().length > 0, 'the shell to set its trap');
  for (let i = 0; i < N; i++) process.kill(sh.pid!, 'SIGUSR1');
  process.kill(sh.pid!, 'SIGKILL');
  await gone;
  return sh.pid!;
}

test(`${N} USR1 to a shell ignoring them and a KILL, and a kill -USR1 of a sleeper: counted exactly`, async () => {
  const t = startTool('signals');
  await t.waitFor(/^Counting signals\. Hit Ctrl-C to end\.$/m);
  const pid = await ignorer();
  const s = sleeper();
  const slept = new Promise(r => s.once('exit', r));
  kill('USR1', s.pid!);
  await slept;
  expect(await t.stop()).toBe(0);
  expect(t.stdout()).toContain('\n\n@[SIGNAL, PID, COMM] = COUNT\n\n');
  const rows = counted(t.stdout());
  // (its sleep's end may also have sent it a SIGCHLD)
  expect(rows.filter(r => r.pid === pid && r.sig !== 'SIGCHLD')).toEqual([{ sig: 'SIGKILL', pid, comm: 'sh', count: 1 }, { sig: 'SIGUSR1', pid, comm: 'sh', count: N }]);
  expect(rows.filter(r => r.pid === s.pid)).toEqual([{ sig: 'SIGUSR1', pid: s.pid, comm: 'sleep', count: 1 }]);
  // smallest count first, as bpftrace prints a map
  expect(rows.map(r => r.count)).toEqual([...rows.map(r => r.count)].sort((a, b) => a - b));
});

test('-p PID --json: that receiver only, as a counts record', async () => {
  const s = sleeper();
  const t = startTool('signals', ['-p', String(s.pid), '--json']);
  await attached(t);
  const slept = new Promise(r => s.once('exit', r));
  kill('TERM', s.pid!);
  await slept;
  expect(await t.stop()).toBe(0);
  const records = t.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toEqual([expect.objectContaining({ tool: 'signals', kind: 'counts', rows: [{ sig: 15, sig_name: 'SIGTERM', tpid: s.pid, tcomm: 'sleep', count: 1 }] })]);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('signals', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '2']]);
});
