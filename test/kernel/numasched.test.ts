// numasched on this machine: the VM has one NUMA node (/sys/devices/system/node lists node0 only), so
// a thread can change CPU but never node. A held program moving itself between CPUs 200 times
// (sched_setaffinity: a migration each time) switches out on both CPUs hundreds of times, and the
// tool, attached for its PID, reports no NUMA switch: the header alone, exit 0 on Ctrl-C, and no
// --json record. Bad input: one line, exit 2.
import fs from 'node:fs';
import os from 'node:os';
import { attached, expectUsageErrors, heldProgram, startTool, tmpDir } from './helpers.js';

const nodes = fs.readdirSync('/sys/devices/system/node').filter(n => /^node\d+$/.test(n));
const dir = tmpDir('bpfkit-numasched-');

(nodes.length === 1 && os.cpus().length > 1 ? test : test.skip)('one node: 200 CPU migrations of a process, no NUMA switch reported', async () => {
  const p = heldProgram(`${dir}/hopper`, '#include <sched.h>', `
	for (int i = 0; i < 200; i++) {
		unsigned long cpu = 1UL << (i % 2);
		if (syscall(SYS_sched_setaffinity, 0, sizeof(cpu), &cpu))
			return 1;
		sched_yield();
	}`);
  await p.started();
  const text = startTool('numasched', ['-p', String(p.pid)]);
  const all = startTool('numasched');
  const json = startTool('numasched', ['--json', '-p', String(p.pid)]);
  await Promise.all([text, all, json].map(attached));
  await p.release();
  // it did change CPU: the scheduler counted its migrations
  const migrations = Number(/^se\.nr_migrations\s*:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/${p.pid}/sched`, 'utf8'))?.[1]);
  expect(migrations).toBeGreaterThanOrEqual(100);
  expect(await Promise.all([text, all, json].map(t => t.stop()))).toEqual([0, 0, 0]);
  p.end();
  expect(nodes).toEqual(['node0']);
  expect(text.stdout()).toBe('Tracing task NUMA switch...\nTIME     PID      TID      SRC_NID     DST_NID  COMM    \n');
  expect(all.stdout().split('\n').slice(2).filter(Boolean)).toEqual([]); // nobody switches node on one node
  expect(json.stdout()).toBe('');
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('numasched', [['-p', 'abc'], ['-p', '999999999'], ['-t', '999999999'], ['-c', 'a-name-longer-than-15'], ['extra'], ['--nosuch']]);
});
