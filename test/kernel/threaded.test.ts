// threaded on the real kernel: a process whose two threads each burn 200 ms of CPU shows both TIDs,
// the main thread's and the named second thread's, and no thread of any other process (-p); --json;
// interval/count; bad input.
import path from 'node:path';
import { expectUsageErrors, heldProgram, runTool, tmpDir, traceHeld } from './helpers.js';

const dir = tmpDir('bpfkit-threaded-');
const hog = () => heldProgram(path.join(dir, 'threadhog'), `#include <pthread.h>
#include <sys/prctl.h>
/* spins until this thread has had 200 ms of CPU: samples at 99 Hz find it there ~20 times */
static void *burn(void *name)
{
	struct timespec ts;
	if (name)
		prctl(PR_SET_NAME, name);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	while (ts.tv_sec == 0 && ts.tv_nsec < 200000000);
	return NULL;
}`, `
	pthread_t t;
	if (pthread_create(&t, NULL, burn, "hogthread"))
		return 1;
	burn(NULL);
	if (pthread_join(t, NULL))
		return 1;`);

const rows = (text: string) => [...text.matchAll(/^@\[(.*), (\d+)\]: (\d+)$/gm)].map(m => ({ comm: m[1], tid: Number(m[2]), samples: Number(m[3]) }));

test('-p PID: both threads of a 2-thread CPU hog, by TID, and nothing else', async () => {
  const p = hog();
  await p.started();
  const { tool, code } = await traceHeld('threaded', ['-p', String(p.pid)], p);
  expect(code).toBe(0);
  expect(tool.stdout().split('\n')[0]).toBe(`Sampling PID ${p.pid} threads at 99 Hertz. Ctrl-C to end.`);
  expect(tool.stdout()).toMatch(/^\d\d:\d\d:\d\d$/m);
  const seen = rows(tool.stdout());
  const threads = [...new Map(seen.map(r => [r.tid, r.comm])).entries()].sort((a, b) => (a[0] === p.pid ? -1 : b[0] === p.pid ? 1 : 0));
  expect(threads).toEqual([[p.pid, 'threadhog'], [expect.any(Number), 'hogthread']]);
  expect(threads[1][0]).not.toBe(p.pid);
});

test('--json: counts records with pid, tid, comm, samples', async () => {
  const p = hog();
  await p.started();
  const { tool, code } = await traceHeld('threaded', ['-p', String(p.pid), '--json'], p);
  expect(code).toBe(0);
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.every(r => r.tool === 'threaded' && r.kind === 'counts')).toBe(true);
  const ours = records.flatMap(r => r.rows);
  expect(new Set(ours.map(r => r.comm))).toEqual(new Set(['threadhog', 'hogthread']));
  expect(ours.every(r => r.pid === p.pid && r.samples > 0)).toBe(true);
});

test('interval and count: two summaries, then it exits by itself', () => {
  const r = runTool('threaded', ['0.5', '2'], { timeoutMs: 60000 });
  expect(r.code).toBe(0);
  expect(r.stdout.match(/^\d\d:\d\d:\d\d$/gm)?.length).toBe(2);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('threaded', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '0'], ['1', '2', '3']]);
});
