// pmheld on the real kernel: a mutex held 5 ms MUTEX_ROUNDS times (mutex-work.ts) shows exactly that
// many holds in the 4 -> 7 msecs row of its address, each as long as the waiter's short hold after;
// --json; bad input.
import { expectUsageErrors, printed, rowsFrom, traceHeld } from './helpers.js';
import { contendedMutex, MUTEX_ROUNDS, mutexRows, mutexSections } from './mutex-work.js';

// uprobes on several functions: ready once the banner is out (after the last attach)
const tracing = printed('Tracing libpthread');

test(`-m -p PID: ${MUTEX_ROUNDS} holds of 5 ms in the 4 -> 7 msecs row of the mutex, ${MUTEX_ROUNDS} short ones`, async () => {
  const p = contendedMutex();
  await p.started();
  const { tool, code } = await traceHeld('pmheld', ['-m', '-p', String(p.pid)], p, [], tracing);
  expect(code).toBe(0);
  expect(tool.stdout().split('\n')[0]).toBe('Tracing libpthread mutex held times, Ctrl-C to end.');
  const sections = mutexSections(tool.stdout());
  // each hold lasts 5 ms at least (4 -> 7 on an idle machine; a loaded one may stretch it)
  expect(rowsFrom(mutexRows(sections, p.pid, p.address()), 4)).toEqual({ '0-1': MUTEX_ROUNDS, '4+': MUTEX_ROUNDS });
  expect(sections.every(s => s.pid === p.pid && s.comm === 'mutexer' && s.frames[0] === 'pthread_mutex_unlock')).toBe(true);
  // the unlock's caller, which an entry probe's stack walk misses, is put back
  expect(sections.filter(s => s.address === p.address()).map(s => s.frames[1])).toEqual(expect.arrayContaining(['main', 'waiter'])) // contend() is inlined;
});

test('--json -u: histogram records, sectioned by mutex', async () => {
  const p = contendedMutex();
  await p.started();
  const { tool, code } = await traceHeld('pmheld', ['--json', '-u', '-p', String(p.pid)], p, [], tracing);
  expect(code).toBe(0);
  const [record] = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(record).toMatchObject({ tool: 'pmheld', kind: 'histogram', val_type: 'usecs', section_by: 'mutex' });
  const ours = record.sections.filter((s: { key: string }) => s.key.startsWith(`${p.address()} mutexer [${p.pid}]`));
  expect(ours.reduce((n: number, s: { total: number }) => n + s.total, 0)).toBe(2 * MUTEX_ROUNDS);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('pmheld', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['-u', '-m'], ['0'], ['1', '2']]);
});
