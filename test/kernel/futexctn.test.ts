// futexctn on the real kernel: a thread waiting 5 ms for a held pthread mutex MUTEX_ROUNDS times
// (mutex-work.ts) shows as that mutex's address contended exactly that many times, each wait from the
// 4 -> 7 msecs row up (a vCPU held back by the hypervisor stretches one now and then: steal time);
// -s per process; -l one lock; --json; bad input.
import { bucketRows, expectUsageErrors, histogramRows, rowsFrom, traceHeld } from './helpers.js';
import { contendedMutex, MUTEX_ROUNDS } from './mutex-work.js';

interface Contention { comm: string; id: number; lock: string; times: number; text: string }

const contentions = (out: string): Contention[] => out.split(/\n\n\n/).flatMap(block => {
  const m = /^(.*)\[(\d+)\] lock (0x[0-9a-f]+) contended (\d+) times, /m.exec(block);
  return m ? [{ comm: m[1], id: Number(m[2]), lock: m[3], times: Number(m[4]), text: block }] : [];
});

test(`-m -p PID: the mutex contended ${MUTEX_ROUNDS} times by one thread, every wait 4 msecs or more, with its stack`, async () => {
  const p = contendedMutex();
  await p.started();
  const { tool, code } = await traceHeld('futexctn', ['-m', '-p', String(p.pid)], p);
  expect(code).toBe(0);
  const ours = contentions(tool.stdout()).filter(c => c.lock === p.address());
  // each wait lasts the 5 ms hold at least (4 -> 7 on an idle machine; a loaded one may stretch it)
  expect(ours.map(c => [c.comm, c.times, rowsFrom(histogramRows(c.text), 4)])).toEqual([['mutexer', MUTEX_ROUNDS, { '4+': MUTEX_ROUNDS }]]);
  expect(ours[0].id).not.toBe(p.pid); // the waiting thread's TID, not the main thread
  expect(ours[0].text).toMatch(/\n    -\n    \S+[^]*\n    -\n     msecs +: count +distribution\n/);
  const [, max, min] = /avg msecs \[max: (\d+) msecs, min (\d+) msecs\]/.exec(ours[0].text)!.map(Number);
  expect(min).toBeGreaterThanOrEqual(4);
  expect(max).toBeGreaterThanOrEqual(min);
});

test('-s -l LOCK --json: that lock only, per process, as a histogram record', async () => {
  const p = contendedMutex();
  await p.started();
  const { tool, code } = await traceHeld('futexctn', ['-s', '-m', '--json', '-l', p.address()], p);
  expect(code).toBe(0);
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ tool: 'futexctn', kind: 'histogram', val_type: 'msecs', section_by: 'lock', interval_s: expect.any(Number) });
  // -s: keyed by process (its PID in the title); -l: nothing but that address (another process may have one like it)
  expect(records[0].sections.every((s: { key: string }) => s.key.includes(`] lock ${p.address()} contended`))).toBe(true);
  const ours = records[0].sections.filter((s: { key: string }) => s.key.startsWith(`mutexer[${p.pid}] `));
  expect(ours).toEqual([expect.objectContaining({ total: MUTEX_ROUNDS })]);
  expect(rowsFrom(bucketRows(ours[0].buckets), 4)).toEqual({ '4+': MUTEX_ROUNDS });
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('futexctn', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['-t', '999999999'], ['-l', 'xyz'], ['-l', '0'], ['--stack-storage-size', '0'], ['0'], ['1', '0']]);
});
