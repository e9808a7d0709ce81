// sigsnoop on the real kernel: the signal a kill -USR1 of a sleeper generates, shown exactly with the
// receiver's comm; -k for the kill syscalls (a kill of a PID nobody has is -3, and generates nothing);
// -n names; and libbpf-tools' sigsnoop on the same signals.
import { expectRefusedUnprivileged, expectUsageErrors, startReference, startTool, untilAttached, type Running } from './helpers.js';
import { kill, killsnoopRows, NO_SUCH_PID, sigsnoopRows, sleeper, type SignalRow } from './signals-work.js';

/**
 * Sends the signals once every tracer is attached, then two markers: a kill -USR1 of a second sleeper
 * (a signal generated) and one of a PID nobody has (a kill syscall, -k). A tracer is done once it showed
 * its last row: the second marker for -k tracers (`syscalls`), the first for the others.
 */
async function signals(ours: Running[], references: Running[] = [], syscalls: Running[] = []): Promise<{ usr1: number; failed: number; sleeperPid: number }> {
  const [s, s2] = [sleeper(), sleeper()];
  await Promise.all([...ours, ...references].map(t => t.waitFor(/^TIME +PID/m)));
  await untilAttached(ours);
  const exited = Promise.all([s, s2].map(p => new Promise(r => p.once('exit', r))));
  const usr1 = kill('USR1', s.pid!);
  const failed = kill('USR1', NO_SUCH_PID);
  const markers = [kill('USR1', s2.pid!), kill('USR1', NO_SUCH_PID)];
  await exited;
  for (const t of [...ours, ...references]) await t.waitFor(new RegExp(`^\\S+ +${markers[syscalls.includes(t) ? 1 : 0]} `, 'm'));
  expect(await Promise.all([...ours, ...references].map(t => t.stop()))).toEqual([...ours, ...references].map(() => 0));
  return { usr1, failed, sleeperPid: s.pid! };
}

const from = (rows: SignalRow[], ...pids: number[]) => rows.filter(r => pids.includes(r.pid) && r.sig !== '17' && r.sig !== 'SIGCHLD');

test('the generated USR1 with the sleeper as receiver; -n names it; -k shows the failed kill too', async () => {
  const generated = startTool('sigsnoop');
  const named = startTool('sigsnoop', ['-n', '-s', 'USR1']);
  const syscalls = startTool('sigsnoop', ['-k']);
  const failedKills = startTool('sigsnoop', ['-k', '-x']);
  const { usr1, failed, sleeperPid } = await signals([generated, named, syscalls, failedKills], [], [syscalls, failedKills]);
  expect(generated.stdout().split('\n')[0]).toBe('TIME     PID     COMM             SIG          TPID    TCOMM            RESULT');
  const shown = { pid: usr1, comm: 'kill', sig: '10', tpid: sleeperPid, tcomm: 'sleep', result: 0 };
  expect(from(sigsnoopRows(generated.stdout()), usr1, failed)).toEqual([shown]);
  expect(from(sigsnoopRows(named.stdout()), usr1, failed)).toEqual([{ ...shown, sig: 'SIGUSR1' }]);
  expect(from(sigsnoopRows(syscalls.stdout()), usr1, failed)).toEqual([shown, { pid: failed, comm: 'kill', sig: '10', tpid: NO_SUCH_PID, tcomm: 'N/A', result: -3 }]);
  expect(from(sigsnoopRows(failedKills.stdout()), usr1, failed)).toEqual([{ pid: failed, comm: 'kill', sig: '10', tpid: NO_SUCH_PID, tcomm: 'N/A', result: -3 }]);
});

test('-p PID and --json: signals from this process only', async () => {
  const s = sleeper();
  const t = startTool('sigsnoop', ['-p', String(process.pid), '--json']);
  await untilAttached([t]);
  process.kill(s.pid!, 'SIGTERM');
  await t.waitFor(/"sig":15/);
  expect(await t.stop()).toBe(0);
  const events = t.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(events.every(e => e.pid === process.pid)).toBe(true);
  expect(events).toContainEqual(expect.objectContaining({ tool: 'sigsnoop', kind: 'event', sig: 15, sig_name: 'SIGTERM', tpid: s.pid, tcomm: 'sleep', result: 0 }));
});

test('conformance: the same signals as libbpf-tools sigsnoop, generated and (-k) sent', async () => {
  const [ours, oursK] = [startTool('sigsnoop', ['-s', '10']), startTool('sigsnoop', ['-k', '-s', '10'])];
  const [theirs, theirsK] = [startReference('sigsnoop', ['-s', '10']), startReference('sigsnoop', ['-k', '-s', '10'])];
  const { usr1, failed } = await signals([ours, oursK], [theirs, theirsK], [oursK, theirsK]);
  // Debian's libbpf-tools 0.26 has no TCOMM column yet: compare the others
  const key = (r: SignalRow) => ({ pid: r.pid, comm: r.comm, sig: r.sig, tpid: r.tpid, result: r.result });
  expect(from(sigsnoopRows(ours.stdout()), usr1, failed).map(key)).toEqual(from(killsnoopRows(theirs.stdout()), usr1, failed));
  expect(from(sigsnoopRows(oursK.stdout()), usr1, failed).map(key)).toEqual(from(killsnoopRows(theirsK.stdout()), usr1, failed));
  expect(from(sigsnoopRows(oursK.stdout()), usr1, failed)).toHaveLength(2);
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('sigsnoop', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['-s', '0'], ['-s', 'x'], ['extra']]);
  expectRefusedUnprivileged('sigsnoop');
});
