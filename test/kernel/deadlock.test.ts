// deadlock on the real kernel: a program whose first thread takes A then B and whose second (started
// after the first has finished: no real deadlock) takes B then A is reported as BCC reports it: the
// two-mutex cycle, each edge with both stacks and its thread, where each thread was created; --json;
// bad input.
import path from 'node:path';
import { expectUsageErrors, heldProgram, printed, startTool, tmpDir } from './helpers.js';

const dir = tmpDir('bpfkit-deadlock-');
const inversion = () => heldProgram(path.join(dir, 'inverter'), `#include <pthread.h>
pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER, mutex_b = PTHREAD_MUTEX_INITIALIZER;
void *lock_a_then_b(void *arg)
{
	pthread_mutex_lock(&mutex_a);
	pthread_mutex_lock(&mutex_b);
	pthread_mutex_unlock(&mutex_b);
	pthread_mutex_unlock(&mutex_a);
	return arg;
}
void *lock_b_then_a(void *arg)
{
	pthread_mutex_lock(&mutex_b);
	pthread_mutex_lock(&mutex_a);
	pthread_mutex_unlock(&mutex_a);
	pthread_mutex_unlock(&mutex_b);
	return arg;
}`, `
	pthread_t t;
	if (pthread_create(&t, NULL, lock_a_then_b, NULL) || pthread_join(t, NULL))
		return 1;
	if (pthread_create(&t, NULL, lock_b_then_a, NULL) || pthread_join(t, NULL))
		return 1;`);

async function detect(args: string[] = []) {
  const p = inversion();
  await p.started();
  const t = startTool('deadlock', [String(p.pid), ...args]);
  try {
    await printed('Tracing... Hit Ctrl-C to end.')(t);
    await p.release();
    return { p, t, code: await t.exited }; // it stops by itself once it has reported
  } finally {
    p.end();
  }
}

test('A then B in one thread, B then A in another: the cycle, both stacks of each edge, both threads', async () => {
  const { p, t, code } = await detect();
  expect(code).toBe(0);
  expect(t.stderr()).toBe('deadlock: thread creation seen at syscalls:sys_exit_clone/clone3: this kernel has no kprobes\n');
  const out = t.stdout();
  expect(out).toContain('----------------\nPotential Deadlock Detected!\n\n');
  const cycle = /^Cycle in lock order graph: Mutex M0 \((0x[0-9a-f]{16})\) => Mutex M1 \((0x[0-9a-f]{16})\) => Mutex M0 \(\1\)$/m.exec(out);
  expect(cycle).not.toBeNull();
  const [m0, m1] = [`Mutex M0 (${cycle![1]})`, `Mutex M1 (${cycle![2]})`];
  const edge = (later: string, earlier: string) =>
    new RegExp(`^${later.replace(/[()]/g, '\\$&')} acquired here while holding ${earlier.replace(/[()]/g, '\\$&')} in Thread (\\d+) \\(inverter\\):\\n((?:@ [0-9a-f]{16} .*\\n)+)\\n`
      + `${earlier.replace(/[()]/g, '\\$&')} previously acquired by the same Thread \\1 \\(inverter\\) here:\\n((?:@ [0-9a-f]{16} .*\\n)+)`, 'm').exec(out);
  const forward = edge(m1, m0), backward = edge(m0, m1);
  expect(forward).not.toBeNull();
  expect(backward).not.toBeNull();
  const fn = (stack: string) => stack.split('\n').filter(Boolean).map(l => l.replace(/^@ [0-9a-f]{16} /, ''));
  // each stack: pthread_mutex_lock called from the thread's function
  const callers = [forward![2], forward![3], backward![2], backward![3]].map(s => fn(s).slice(0, 2));
  expect(new Set(callers.map(c => c.join(' < ')))).toEqual(new Set(['pthread_mutex_lock < lock_a_then_b', 'pthread_mutex_lock < lock_b_then_a']));
  expect(forward![1]).not.toBe(backward![1]);
  for (const tid of [forward![1], backward![1]]) expect(out).toMatch(new RegExp(`^Thread ${tid} created by Thread ${p.pid} \\(inverter\\) here: $`, 'm'));
});

test('--json: the cycle as one event record', async () => {
  const { t, code } = await detect(['--json']);
  expect(code).toBe(0);
  const records = t.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ tool: 'deadlock', kind: 'event', cycle: [expect.any(String), expect.any(String)] });
  expect(records[0].edges.map((e: { acquired_stack: string[] }) => e.acquired_stack[1]).sort()).toEqual(['lock_a_then_b', 'lock_b_then_a']);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('deadlock', [[], ['--bogus', '1'], ['abc'], ['999999999'], ['1', '--binary', '/nonexistent'], ['1', '--lock-symbols', 'no_such_lock_fn'], ['1', '-t', '0']]);
});
