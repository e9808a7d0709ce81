// killsnoop on the real kernel: a kill -USR1 of a sleeper shown exactly (sender, signal, target, 0),
// a kill of a PID nobody has shown with -3 (ESRCH), the filters, and libbpf-tools' killsnoop.
import { expectRefusedUnprivileged, expectUsageErrors, startReference, startTool, untilAttached, type Running } from './helpers.js';
import { kill, killsnoopRows, NO_SUCH_PID, sleeper, type SignalRow } from './signals-work.js';

/**
 * Sends the two signals once every tracer is attached, then a failed kill -TERM as a marker; returns what
 * each row must be. A tracer is done once it showed its last row: the marker for those that show it
 * (`marked`), the failed kill for the others (-s USR1).
 */
async function signals(ours: Running[], references: Running[] = [], marked: Running[] = []): Promise<{ delivered: SignalRow; failed: SignalRow }> {
  const s = sleeper();
  await Promise.all([...ours, ...references].map(t => t.waitFor(/^TIME +PID/m)));
  await untilAttached(ours);
  const exited = new Promise(r => s.once('exit', r));
  const delivered = { pid: kill('USR1', s.pid!), comm: 'kill', sig: '10', tpid: s.pid!, result: 0 };
  const failed = { pid: kill('USR1', NO_SUCH_PID), comm: 'kill', sig: '10', tpid: NO_SUCH_PID, result: -3 };
  const marker = kill('TERM', NO_SUCH_PID);
  await exited; // USR1 ends a sleep
  for (const t of [...ours, ...references]) await t.waitFor(new RegExp(`^\\S+ +${marked.includes(t) ? marker : failed.pid} `, 'm'));
  expect(await Promise.all([...ours, ...references].map(t => t.stop()))).toEqual([...ours, ...references].map(() => 0));
  return { delivered, failed };
}

const ofKill = (rows: SignalRow[], ...pids: number[]) => rows.filter(r => pids.includes(r.pid));

test('a kill -USR1 of a sleeper, and of a PID nobody has, shown exactly; -x, -T, -s filter; Ctrl-C exits 0', async () => {
  const all = startTool('killsnoop');
  const failedOnly = startTool('killsnoop', ['-x']);
  const nine = startTool('killsnoop', ['-s', '9,15']);
  const usr1 = startTool('killsnoop', ['-s', 'USR1']);
  const { delivered, failed } = await signals([all, failedOnly, nine, usr1], [], [all, failedOnly, nine]);
  expect(all.stdout().split('\n')[0]).toMatch(/^TIME +PID +COMM +SIG +TPID +RESULT$/);
  expect(ofKill(killsnoopRows(all.stdout()), delivered.pid, failed.pid)).toEqual([delivered, failed]);
  expect(ofKill(killsnoopRows(failedOnly.stdout()), delivered.pid, failed.pid)).toEqual([failed]);
  expect(ofKill(killsnoopRows(nine.stdout()), delivered.pid, failed.pid)).toEqual([]);
  expect(ofKill(killsnoopRows(usr1.stdout()), delivered.pid, failed.pid)).toEqual([delivered, failed]);
});

test('-T PID and -p PID: only signals to, or from, that process; --json events', async () => {
  const target = sleeper();
  const toTarget = startTool('killsnoop', ['-T', String(target.pid)]);
  const fromMe = startTool('killsnoop', ['-p', String(process.pid), '--json']);
  await toTarget.waitFor(/^TIME/m);
  await untilAttached([toTarget, fromMe]);
  const sender = kill('TERM', target.pid!);
  process.kill(target.pid!, 0); // signal 0 from this process: a check, sent all the same
  await toTarget.waitFor(new RegExp(`^\\S+ +${sender} `, 'm'));
  await fromMe.waitFor(/"sig":0/);
  expect(await Promise.all([toTarget.stop(), fromMe.stop()])).toEqual([0, 0]);
  const rows = killsnoopRows(toTarget.stdout());
  expect(rows.every(r => r.tpid === target.pid)).toBe(true);
  expect(rows).toContainEqual({ pid: sender, comm: 'kill', sig: '15', tpid: target.pid, result: 0 });
  const events = fromMe.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(events.every(e => e.pid === process.pid)).toBe(true);
  expect(events).toContainEqual(expect.objectContaining({ tool: 'killsnoop', kind: 'event', pid: process.pid, sig: 0, tpid: target.pid, result: 0 }));
});

test('conformance: the same kills as libbpf-tools killsnoop', async () => {
  const ours = startTool('killsnoop', ['-s', '10']);
  const theirs = startReference('killsnoop', ['-s', '10']);
  const { delivered, failed } = await signals([ours], [theirs]);
  expect(ofKill(killsnoopRows(ours.stdout()), delivered.pid, failed.pid)).toEqual([delivered, failed]);
  expect(ofKill(killsnoopRows(theirs.stdout()), delivered.pid, failed.pid)).toEqual([delivered, failed]);
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('killsnoop', [['--bogus'], ['-p', 'abc'], ['-T', '999999999'], ['-s', '0'], ['-s', 'NOSIG'], ['-s', '65'], ['extra']]);
  expectRefusedUnprivileged('killsnoop');
});
