// runqlat on the real kernel: a CPU hog (more runnable tasks than CPUs) must show run-queue latency.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { runTool, startReference, startTool } from './helpers.js';

/** Busy shells, twice as many as CPUs, so tasks wait on the run queue; killed after `seconds`. */
function hog(seconds: number): ChildProcess[] {
  const hogs = Array.from({ length: os.cpus().length * 2 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  setTimeout(() => hogs.forEach(h => h.kill('SIGKILL')), seconds * 1000).unref();
  return hogs;
}

const rows = (text: string) => [...text.matchAll(/^ *(\d+) -> (\d+) +: (\d+) +\|[*+ ]*\|$/gm)].map(m => ({ low: +m[1], high: +m[2], count: +m[3] }));
const total = (text: string) => rows(text).reduce((a, r) => a + r.count, 0);

test('interval mode: 1 1 prints one BCC histogram of a CPU hog and exits 0', () => {
  const hogs = hog(3);
  const r = runTool('runqlat', ['1', '1']);
  hogs.forEach(h => h.kill());
  expect(r.code).toBe(0);
  expect(r.stdout.split('\n').slice(0, 3)).toEqual(['Tracing run queue latency... Hit Ctrl-C to end.', '', '     usecs               : count     distribution']);
  expect(total(r.stdout)).toBeGreaterThan(50);
  expect(rows(r.stdout)[0]).toEqual(expect.objectContaining({ low: 0, high: 1 }));
  // hogs sharing CPUs wait whole time slices: some latencies are in the milliseconds
  expect(rows(r.stdout).some(x => x.low >= 1024 && x.count > 0)).toBe(true);
});

test('-P sections per process include the hog; -m -T use msecs and a time line; Ctrl-C prints', async () => {
  const hogs = hog(4);
  const t = startTool('runqlat', ['-P', '-m', '-T']);
  await t.waitFor(/Hit Ctrl-C/);
  await new Promise(r => setTimeout(r, 1500));
  expect(await t.stop()).toBe(0);
  hogs.forEach(h => h.kill());
  const out = t.stdout();
  expect(out).toMatch(/^\d\d:\d\d:\d\d$/m);
  expect(out).toContain('     msecs               : count     distribution');
  // the hogs are `timeout` children running sh: their sections are there
  const pids = [...out.matchAll(/^pid = (\d+) (\S+)/gm)].map(m => ({ pid: +m[1], comm: m[2] }));
  expect({ pids, out }).toMatchObject({ pids: expect.arrayContaining([expect.objectContaining({ comm: 'sh' })]) });
});

test('-p filters one process; --json prints histogram objects', async () => {
  const hogs = hog(3);
  const target = hogs[0].pid!;
  const r = runTool('runqlat', ['-p', String(target), '--json', '1', '1']);
  hogs.forEach(h => h.kill());
  expect(r.code).toBe(0);
  const obj = JSON.parse(r.stdout.trim());
  expect(obj.valType).toBe('usecs');
  expect(obj.total).toBeGreaterThan(0);
  expect(obj.buckets[0]).toEqual({ start: 0, end: 1, count: expect.any(Number) });
});

test('conformance: the same run-queue events as libbpf-tools runqlat, within 30 %', async () => {
  // Both trace one hog process (-p) for 2 s intervals. Their windows start a few hundred ms apart
  // (start-up times differ), and a steady hog is preempted at a steady rate, hence the tolerance.
  // Without -p each would also see the other's start-up, which is not the same work.
  const hogs = hog(5);
  const pid = String(hogs[0].pid);
  const [ours, theirs] = [startTool('runqlat', ['-p', pid, '2', '1']), startReference('runqlat', ['-p', pid, '2', '1'])];
  const [codeOurs, codeTheirs] = await Promise.all([ours.exited, theirs.exited]);
  hogs.forEach(h => h.kill());
  expect(codeOurs).toBe(0);
  expect(codeTheirs).toBe(0);
  const a = total(ours.stdout());
  const b = [...theirs.stdout().matchAll(/^ *\d+ -> \d+ +: (\d+) +\|/gm)].reduce((s, m) => s + Number(m[1]), 0);
  expect(a).toBeGreaterThan(50);
  expect(Math.abs(a - b) / Math.max(a, b)).toBeLessThan(0.3);
});

test('bad input: one line and exit 2', () => {
  for (const args of [['--bogus'], ['-p', 'abc'], ['-1'], ['1', '2', '3'], ['-P', '-L'], ['x']]) {
    const r = runTool('runqlat', args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^runqlat: /);
  }
});
