// runqslower on the real kernel: a busy shell pinned to one CPU with a CPU hog (taskset), at nice 10
// so that the hog's time slices keep it waiting on the run queue for many milliseconds at a time.
// The kernel's own account of it (/proc/PID/schedstat: times switched in, ns waited on the run queue)
// is the truth: with threshold 0 every wait is an event, and they add up to the kernel's total.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { bpfFdsOf, expectRefusedUnprivileged, expectUsageErrors, startReference, startTool, unloaded, untilAttached, waitUntil, type Running } from './helpers.js';

const live: ChildProcess[] = [];
afterEach(() => live.splice(0).forEach(c => c.kill('SIGKILL')));

const CPU = '1';
const schedstat = (pid: number) => {
  const [, waitedNs, switchIns] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { waitedNs, switchIns };
};
const stopped = (pid: number) => /^State:\s+T/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));

/**
 * A hog and the target on CPU 1; the target stops itself at once. Returns its PID and a function that
 * lets it run (SIGCONT) until it was switched in `n` times, stops it again, and returns the kernel's
 * account of that stretch: all its run-queue waits fall inside it.
 */
async function pinnedPair(): Promise<{ pid: number; runFor(n: number): Promise<{ waitedNs: number; switchIns: number }> }> {
  live.push(spawn('taskset', ['-c', CPU, 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
  const target = spawn('taskset', ['-c', CPU, 'nice', '-n', '10', 'sh', '-c', 'kill -STOP $$; while :; do :; done'], { stdio: 'ignore' });
  live.push(target);
  const pid = target.pid!; // taskset and nice exec: the shell has this PID
  await waitUntil(() => stopped(pid), 'the target to stop itself');
  return {
    pid,
    async runFor(n) {
      const from = schedstat(pid);
      target.kill('SIGCONT');
      await waitUntil(() => schedstat(pid).switchIns >= from.switchIns + n, `${n} switch-ins of the target`, 120000);
      target.kill('SIGSTOP');
      await waitUntil(() => stopped(pid), 'the target to stop');
      const to = schedstat(pid);
      return { waitedNs: to.waitedNs - from.waitedNs, switchIns: to.switchIns - from.switchIns };
    },
  };
}

/** TIME COMM TID LAT(us) [PREV COMM PREV TID] rows. */
const events = (text: string) => [...text.matchAll(/^\d\d:\d\d:\d\d (.{16}) (\d+) +(\d+)(?: (.{16}) (\d+))? *$/gm)]
  .map(m => ({ comm: m[1].trim(), tid: Number(m[2]), latUs: Number(m[3]), prevComm: m[4]?.trim(), prevTid: m[5] && Number(m[5]) }));

async function traced(target: Awaited<ReturnType<typeof pinnedPair>>, ours: Running[], references: Running[] = [], n = 40) {
  await Promise.all([...ours, ...references].map(t => t.waitFor(/^Tracing run queue latency higher than \d+ us$/m)));
  await untilAttached(ours);
  const account = await target.runFor(n);
  expect(await Promise.all([...ours, ...references].map(t => t.stop()))).toEqual([...ours, ...references].map(() => 0));
  return account;
}

test('threshold 0: one event per switch-in of the target, adding up to its run-queue time in schedstat', async () => {
  const target = await pinnedPair();
  const all = startTool('runqslower', ['-p', String(target.pid), '0']);
  const slow = startTool('runqslower', ['-p', String(target.pid)]);
  await all.waitFor(/LAT\(us\)/);
  const progs = bpfFdsOf(all.child.pid!).programs;
  expect(progs.length).toBe(3);
  const account = await traced(target, [all, slow]);
  expect(all.stdout().split('\n').slice(0, 2)).toEqual(['Tracing run queue latency higher than 0 us', 'TIME     COMM             TID           LAT(us)']);
  const seen = events(all.stdout());
  const sumUs = seen.reduce((a, e) => a + e.latUs, 0);
  console.log(`runqslower: ${seen.length} waits summing ${sumUs} us; schedstat: ${account.switchIns} switch-ins, ${Math.round(account.waitedNs / 1000)} us waited`);
  expect(seen.every(e => e.tid === target.pid && e.comm === 'sh')).toBe(true);
  expect(seen.length).toBe(account.switchIns);
  // each event is truncated to whole µs, and the kernel stamps a wait by its run-queue clock a few µs
  // from our tracepoints (the enqueue before sched_wakeup, the switch after sched_switch): 0.5 %
  expect(Math.abs(sumUs - account.waitedNs / 1000)).toBeLessThanOrEqual(Math.max(seen.length * 2 + 10, 0.005 * account.waitedNs / 1000));
  // the default threshold, 10000 us: exactly the waits over 10 ms (one on the boundary may differ)
  const overTen = seen.filter(e => e.latUs > 10000).length;
  expect(overTen).toBeGreaterThan(0); // nice 10 against a nice-0 hog on one CPU: waits of many ms
  expect(Math.abs(events(slow.stdout()).length - overTen)).toBeLessThanOrEqual(1);
  expect(events(slow.stdout()).every(e => e.latUs > 10000)).toBe(true);
  await unloaded(progs);
});

test('-P: the task that ran before, the hog; -t; --json events', async () => {
  const target = await pinnedPair();
  const previous = startTool('runqslower', ['-P', '-t', String(target.pid), '1000']);
  const json = startTool('runqslower', ['-p', String(target.pid), '--json', '1000']);
  await previous.waitFor(/PREV TID/);
  await untilAttached([json]);
  await target.runFor(20);
  expect(await Promise.all([previous.stop(), json.stop()])).toEqual([0, 0]);
  expect(previous.stdout().split('\n')[1]).toBe('TIME     COMM             TID           LAT(us) PREV COMM        PREV TID');
  const seen = events(previous.stdout());
  expect(seen.length).toBeGreaterThan(0);
  // what ran before it: another task (the hog, or other work this busy machine puts on that CPU)
  for (const e of seen) {
    expect(e).toMatchObject({ tid: target.pid, comm: 'sh', prevComm: expect.any(String) });
    expect(e.prevTid).not.toBe(target.pid);
    expect(e.latUs).toBeGreaterThan(1000);
  }
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.length).toBeGreaterThan(0);
  for (const r of records) expect(r).toMatchObject({ tool: 'runqslower', kind: 'event', comm: 'sh', tid: target.pid, lat_us: expect.any(Number) });
  expect(records.every(r => r.lat_us > 1000)).toBe(true);
});

test('conformance: the same waits as libbpf-tools runqslower -p (count and total within 2 %)', async () => {
  const target = await pinnedPair();
  // libbpf-tools takes no threshold 0: 1 us leaves out only the waits under a microsecond
  const ours = startTool('runqslower', ['-p', String(target.pid), '1']);
  const theirs = startReference('runqslower', ['-p', String(target.pid), '1']);
  await traced(target, [ours], [theirs], 40);
  const [a, b] = [events(ours.stdout()), events(theirs.stdout())];
  const sum = (x: typeof a) => x.reduce((s, e) => s + e.latUs, 0);
  console.log(`runqslower conformance: bpfkit ${a.length} waits, ${sum(a)} us; libbpf-tools ${b.length} waits, ${sum(b)} us`);
  expect(a.length).toBeGreaterThanOrEqual(30);
  expect(Math.abs(a.length - b.length)).toBeLessThanOrEqual(Math.max(1, 0.02 * b.length));
  expect(Math.abs(sum(a) - sum(b))).toBeLessThanOrEqual(0.02 * sum(b));
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('runqslower', [['--bogus'], ['-p', 'abc'], ['-t', '999999999'], ['-p', '1', '-t', '1'], ['x'], ['-5'], ['1', '2']]);
  expectRefusedUnprivileged('runqslower');
});
