// threadsnoop on the real kernel: a program creating N threads on a start routine of a known name
// shows exactly N lines of that name for its PID; -p keeps to one process; --json; bad input.
import path from 'node:path';
import { expectUsageErrors, heldProgram, tmpDir, traceHeld } from './helpers.js';

const N = 5;
const dir = tmpDir('bpfkit-threadsnoop-');
const threads = () => heldProgram(path.join(dir, 'threadmaker'), `#include <pthread.h>
void *threadsnoop_start_routine(void *arg) { return arg; }`, `
	for (int i = 0; i < ${N}; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, threadsnoop_start_routine, NULL) || pthread_join(t, NULL))
			return 1;
	}`);

const rows = (text: string) => [...text.matchAll(/^(\d+) +(\d+) +(.{16}) (.*)$/gm)].map(m => ({ pid: Number(m[2]), comm: m[3].trim(), func: m[4] }));

test(`${N} pthread_create calls: ${N} lines naming the start routine, for that PID`, async () => {
  const p = threads();
  await p.started();
  const { tool, code } = await traceHeld('threadsnoop', [], p);
  expect(code).toBe(0);
  expect(tool.stdout().split('\n')[0]).toBe('TIME(ms)   PID    COMM             FUNC');
  expect(rows(tool.stdout()).filter(r => r.pid === p.pid)).toEqual(Array(N).fill({ pid: p.pid, comm: 'threadmaker', func: 'threadsnoop_start_routine' }));
});

test('-p PID --json: that process\'s threads only, as event records', async () => {
  const p = threads();
  await p.started();
  const { tool, code } = await traceHeld('threadsnoop', ['-p', String(p.pid), '--json'], p);
  expect(code).toBe(0);
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toEqual(Array(N).fill(expect.objectContaining({ tool: 'threadsnoop', kind: 'event', pid: p.pid, comm: 'threadmaker', func: 'threadsnoop_start_routine' })));
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('threadsnoop', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['extra']]);
});
