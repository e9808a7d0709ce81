// pmlock on the real kernel: a thread waiting 5 ms for a held mutex MUTEX_ROUNDS times (mutex-work.ts) shows
// exactly that many waits in the 4 -> 7 msecs row of its address, and as many uncontended locks;
// --json; bad input.
import { expectUsageErrors, printed, rowsFrom, traceHeld } from './helpers.js';
import { contendedMutex, MUTEX_ROUNDS, mutexRows, mutexSections } from './mutex-work.js';

// uprobes on several functions: ready once the banner is out (after the last attach)
const tracing = printed('Tracing libpthread');

test(`-m -p PID: ${MUTEX_ROUNDS} waits of 5 ms in the 4 -> 7 msecs row of the mutex, ${MUTEX_ROUNDS} uncontended locks`, async () => {
  const p = contendedMutex();
  await p.started();
  const { tool, code } = await traceHeld('pmlock', ['-m', '-p', String(p.pid)], p, [], tracing);
  expect(code).toBe(0);
  expect(tool.stdout().split('\n')[0]).toBe('Tracing libpthread mutex lock latency, Ctrl-C to end.');
  const sections = mutexSections(tool.stdout());
  // each wait lasts the 5 ms hold at least (4 -> 7 on an idle machine; a loaded one may stretch it)
  expect(rowsFrom(mutexRows(sections, p.pid, p.address()), 4)).toEqual({ '0-1': MUTEX_ROUNDS, '4+': MUTEX_ROUNDS });
  expect(sections.every(s => s.pid === p.pid && s.comm === 'mutexer')).toBe(true);
  // at the lock's return the stack starts in its caller: the waiting one is the second thread's
  const waits = sections.filter(s => s.address === p.address() && s.frames[0] === 'waiter');
  expect(waits.map(s => rowsFrom(Object.fromEntries(s.rows), 4))).toEqual([{ '4+': MUTEX_ROUNDS }]);
});

test('--json -u: histogram records, sectioned by mutex', async () => {
  const p = contendedMutex();
  await p.started();
  const { tool, code } = await traceHeld('pmlock', ['--json', '-u', '-p', String(p.pid)], p, [], tracing);
  expect(code).toBe(0);
  const [record] = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(record).toMatchObject({ tool: 'pmlock', kind: 'histogram', val_type: 'usecs', section_by: 'mutex' });
  const ours = record.sections.filter((s: { key: string }) => s.key.startsWith(`${p.address()} mutexer [${p.pid}]`));
  expect(ours.reduce((n: number, s: { total: number }) => n + s.total, 0)).toBe(2 * MUTEX_ROUNDS);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('pmlock', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['-u', '-m'], ['0'], ['1', '2']]);
});
