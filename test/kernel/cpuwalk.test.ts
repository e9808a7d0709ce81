// cpuwalk on the real kernel: a busy loop pinned to CPU 1 (taskset) is sampled on CPU 1 only, with -p
// its PID; unfiltered, CPU 1 has at least those samples; bpftrace's lhist format; --json; bad input.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool, startTool, waitUntil } from './helpers.js';

const rows = (out: string) => [...out.matchAll(/^\[(\d+), (\d+)\) +(\d+) \|@* *\|$/gm)].map(m => ({ cpu: Number(m[1]), samples: Number(m[3]) }));

let hog: ChildProcess;
beforeAll(async () => {
  hog = spawn('taskset', ['-c', '1', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
  // taskset execs the shell: same PID, pinned, once its comm is sh
  await waitUntil(() => fs.readFileSync(`/proc/${hog.pid}/comm`, 'utf8').trim() === 'sh', 'the pinned loop to start');
});
afterAll(() => hog.kill('SIGKILL'));

test('-p: the loop pinned to CPU 1 is sampled on CPU 1 only, in bpftrace\'s lhist format', async () => {
  const pinned = startTool('cpuwalk', ['-p', String(hog.pid), '2', '1']);
  const all = startTool('cpuwalk', ['2', '1']);
  expect(await Promise.all([pinned.exited, all.exited])).toEqual([0, 0]);
  const out = pinned.stdout();
  expect(out).toMatch(/^Sampling CPU at 99hz\.\.\. Hit Ctrl-C to end\.\n\n@cpu: \n\[1, 2\) +\d+ \|@{52}\|\n\n$/);
  const ours = rows(out);
  expect(ours.map(r => r.cpu)).toEqual([1]);
  expect(ours[0].samples).toBeGreaterThan(0);
  const cpu1 = rows(all.stdout()).find(r => r.cpu === 1);
  // both sampled the same 2 s (started together, give or take a start-up): the unfiltered CPU 1 row
  // holds the loop's samples and whatever else ran there; its share is at least a good part of them
  expect(cpu1?.samples).toBeGreaterThan(ours[0].samples / 2);
});

test('--json: a linear histogram of CPUs; Ctrl-C prints the histogram and exits 0', async () => {
  const j = runTool('cpuwalk', ['--json', '-p', String(hog.pid), '1', '1']);
  const r = JSON.parse(j.stdout.trim());
  expect(validateRecord(r)).toEqual([]);
  expect(r).toMatchObject({ tool: 'cpuwalk', kind: 'histogram', val_type: 'cpu', scale: 'linear' });
  expect(r.buckets.map((b: { start: number; count: number }) => [b.start, b.count > 0])).toEqual([[0, false], [1, true]]);
  const t = startTool('cpuwalk', ['-p', String(hog.pid)]);
  await t.waitFor(/Hit Ctrl-C/);
  expect(await t.stop()).toBe(0);
  expect(t.stdout()).toContain('@cpu: \n');
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('cpuwalk', [['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '0'], ['--nosuch']]);
});
