// pidpersec on the real kernel: a held program forks exactly N children; with -p its PID, the counts
// printed add up to N; without, the machine's forks include them (at least N over the same time).
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectUsageErrors, heldProgram, startTool, tmpDir } from './helpers.js';

const N = 200;
const dir = tmpDir('bpfkit-pidpersec-');
const forker = () => heldProgram(`${dir}/forker`, '#include <sys/wait.h>',
  `for (int i = 0; i < ${N}; i++) { pid_t p = fork(); if (p == 0) _exit(0); waitpid(p, NULL, 0); }`);

const perSecond = (out: string) => [...out.matchAll(/^\d\d:\d\d:\d\d: PIDs\/sec: (\d+)$/gm)].map(m => Number(m[1]));

test(`a process forking ${N} children: -p counts exactly ${N}, unfiltered at least ${N}; --json`, async () => {
  const p = forker();
  await p.started();
  const only = startTool('pidpersec', ['-p', String(p.pid)]);
  const all = startTool('pidpersec');
  const json = startTool('pidpersec', ['--json', '-p', String(p.pid)]);
  await Promise.all([only, all, json].map(attached));
  await p.release();
  expect(await Promise.all([only, all, json].map(t => t.stop()))).toEqual([0, 0, 0]);
  p.end();
  expect(only.stdout().split('\n')[0]).toBe('Tracing... Ctrl-C to end.');
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  expect(sum(perSecond(only.stdout()))).toBe(N);
  expect(sum(perSecond(all.stdout()))).toBeGreaterThanOrEqual(N);
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.map(validateRecord)).toEqual(records.map(() => []));
  expect(records[0]).toMatchObject({ tool: 'pidpersec', kind: 'counts', rows: [{ new_processes: expect.any(Number) }] });
  expect(sum(records.map(r => r.rows[0].new_processes))).toBe(N);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('pidpersec', [['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '0'], ['--nosuch']]);
});
