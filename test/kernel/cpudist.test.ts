// cpudist on the real kernel: a task that runs 10 ms and sleeps 10 ms, fifty times, has its on-CPU
// and its off-CPU stretches in the 8-16 ms row; the same off-CPU times as libbpf-tools cpudist.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bpfFdsOf, bucketRows, buildC, countFrom, expectRefusedUnprivileged, expectUsageErrors, histogramRows, runTool, startReference, startTool, tmpDir, unloaded, untilAttached, waitUntil, type Running } from './helpers.js';

const ROUNDS = 50;

// Waits for a byte on stdin (the tracers attach first), then runs 10 ms (by the clock, spinning) and
// sleeps 10 ms, ROUNDS times. It runs SCHED_FIFO (chrt), so no ordinary task on this busy machine
// preempts it and cuts one 10 ms stretch in two; its wakeups put it on a CPU at once.
const source = `
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(void)
{
	getchar();
	for (int i = 0; i < ${ROUNDS}; i++) {
		double until = now() + 10;
		while (now() < until)
			;
		struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ten_ms, 0);
	}
	return 0;
}
`;
const dir = tmpDir();
const burner = path.join(dir, 'burn10');
beforeAll(() => buildC(burner, source));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const live: ChildProcess[] = [];
afterEach(() => live.splice(0).forEach(c => c.kill('SIGKILL')));

function startBurner(): ChildProcess {
  const c = spawn('chrt', ['-f', '10', burner], { stdio: ['pipe', 'ignore', 'ignore'] });
  live.push(c);
  return c;
}

/** Starts the burners (already waiting), lets them go once every tracer is attached, waits for their ends. */
async function runBurners(burners: ChildProcess[], tracers: Running[]): Promise<void> {
  await untilAttached(tracers);
  await Promise.all(burners.map(b => {
    const ended = new Promise(r => b.once('exit', r));
    b.stdin!.end('go\n');
    return ended;
  }));
}

const rows = (text: string) => [...text.matchAll(/^ *(\d+) -> (\d+) +: (\d+) +\|[*+ ]*\|$/gm)].map(m => ({ low: +m[1], high: +m[2], count: +m[3] }));
/** Stretches of 10 ms: in the row from `low` (8192 usecs, 8 msecs) or, stretched by steal time, above (countFrom). */
const tenMs = (text: string, low: number) => countFrom(histogramRows(text), low);
const total = (text: string) => rows(text).reduce((a, r) => a + r.count, 0);

test('on-CPU: 50 stretches of 10 ms land in 8192 -> 16383 usecs; Ctrl-C prints, exits 0, unloads', async () => {
  const b = startBurner();
  const t = startTool('cpudist', ['-p', String(b.pid)]);
  await t.waitFor(/Hit Ctrl-C/);
  const progs = bpfFdsOf(t.child.pid!).programs;
  expect(progs.length).toBe(1);
  await runBurners([b], [t]);
  expect(await t.stop()).toBe(0);
  const out = t.stdout();
  expect(out.split('\n').slice(0, 3)).toEqual(['Tracing on-CPU time... Hit Ctrl-C to end.', '', '     usecs               : count     distribution']);
  // chrt execs the burner in the same process: -p is its PID. Each round is one stretch; the last
  // (exit) is short. A stop-class kernel thread (migration) may still cut one in two.
  expect(tenMs(out, 8192)).toBeGreaterThanOrEqual(ROUNDS - 2);
  expect(tenMs(out, 8192)).toBeLessThanOrEqual(ROUNDS);
  expect(total(out) - tenMs(out, 8192)).toBeLessThanOrEqual(6);
  await unloaded(progs);
});

test('-O -m -T: the 50 sleeps of 10 ms are in the 8 -> 15 msecs row; -e sums them', async () => {
  const b = startBurner();
  const t = startTool('cpudist', ['-O', '-m', '-T', '-e', '-p', String(b.pid)]);
  await t.waitFor(/Hit Ctrl-C/);
  await runBurners([b], [t]);
  expect(await t.stop()).toBe(0);
  const out = t.stdout();
  expect(out.split('\n').slice(0, 4)).toEqual(['Tracing off-CPU time... Hit Ctrl-C to end.', '', expect.stringMatching(/^\d\d:\d\d:\d\d$/), '     msecs               : count     distribution']);
  // 10 ms and the wakeup: 8 -> 15 msecs; at a load average of ~20 one wakeup of the FIFO task once took over 6 ms
  // (a preemption by a stop-class kernel thread adds a short stretch off the CPU, runnable)
  expect(tenMs(out, 8)).toBeGreaterThanOrEqual(ROUNDS - 2);
  // (one sleep in 50 may be missing: on the idle CI machine the kernel's switches showed 49, libbpf-tools' too)
  expect(total(out)).toBeGreaterThanOrEqual(ROUNDS - 1);
  expect(total(out)).toBeLessThanOrEqual(ROUNDS + 2);
  const ext = /^avg = (\d+) msecs, total: (\d+) msecs, count: (\d+)$/m.exec(out);
  expect(ext).not.toBeNull();
  expect(Number(ext![3])).toBe(total(out));
  // RT tasks have no timer slack: a sleep is switched out a few µs after its 10 ms timer started,
  // and msecs are truncated, so a stretch is 9 or 10 msecs (on average a little more, if steal time stretched one)
  expect(Number(ext![1])).toBeGreaterThanOrEqual(9);
  expect(Number(ext![1])).toBeLessThanOrEqual(15);
});

test('-P: a section per process, named "pid = PID comm"; -L per thread; --json sections', async () => {
  const burners = [startBurner(), startBurner()];
  const [byPid, byTid, asJson] = [startTool('cpudist', ['-P']), startTool('cpudist', ['-L']), startTool('cpudist', ['-P', '--json'])];
  await Promise.all([byPid.waitFor(/Hit Ctrl-C/), byTid.waitFor(/Hit Ctrl-C/)]);
  await runBurners(burners, [byPid, byTid, asJson]);
  expect(await Promise.all([byPid.stop(), byTid.stop(), asJson.stop()])).toEqual([0, 0, 0]);
  for (const [t, header] of [[byPid, 'pid'], [byTid, 'tid']] as const) {
    for (const b of burners) {
      const section = t.stdout().split(`\n${header} = ${b.pid} burn10\n`)[1]?.split(/\n(pid|tid) = /)[0];
      expect(section).toBeDefined();
      // two FIFO burners on two CPUs leave the kernel's own work less room: a few more stretches cut
      expect(tenMs(section!, 8192)).toBeGreaterThanOrEqual(ROUNDS * 0.9);
    }
  }
  const record = JSON.parse(asJson.stdout().trim().split('\n').pop()!);
  expect(record).toMatchObject({ tool: 'cpudist', kind: 'histogram', section_by: 'pid' });
  for (const b of burners) {
    const s = record.sections.find((x: { key: number }) => x.key === b.pid);
    expect(s).toMatchObject({ comm: 'burn10' });
    expect(s.buckets[13]).toEqual({ start: 8192, end: 16383, count: expect.any(Number) });
    expect(countFrom(bucketRows(s.buckets), 8192)).toBeGreaterThanOrEqual(ROUNDS * 0.9);
  }
});

test('conformance -O: the same off-CPU times as libbpf-tools cpudist, row by row', async () => {
  const b = startBurner();
  const ours = startTool('cpudist', ['-O', '-p', String(b.pid)]);
  const theirs = startReference('cpudist', ['-O', '-p', String(b.pid)]);
  await Promise.all([ours.waitFor(/Hit Ctrl-C/), theirs.waitFor(/Hit Ctrl-C/)]);
  await runBurners([b], [ours, theirs]);
  expect(await Promise.all([ours.stop(), theirs.stop()])).toEqual([0, 0]);
  const byRange = (text: string) => new Map(rows(text).filter(r => r.count).map(r => [`${r.low}-${r.high}`, r.count]));
  console.log(`cpudist -O conformance: bpfkit ${JSON.stringify([...byRange(ours.stdout())])}, libbpf-tools ${JSON.stringify([...byRange(theirs.stdout())])}`);
  // the workload's sleeps row by row; a stretch at either end (the tools attach and stop at slightly
  // different moments) may land elsewhere in one tool only (seen on an idle machine: 4-7 us against 8-15)
  const workloadRows = (text: string) => new Map([...byRange(text)].filter(([range]) => Number(range.split('-')[0]) >= 1024));
  expect(workloadRows(ours.stdout())).toEqual(workloadRows(theirs.stdout()));
  // every 10 ms sleep from 8-16 ms up: all of them, or (seen once on the CI machine, in both tools alike)
  // all but one, whose switch the tools did not see whole
  expect(tenMs(ours.stdout(), 8192)).toBe(tenMs(theirs.stdout(), 8192));
  expect(tenMs(ours.stdout(), 8192)).toBeGreaterThanOrEqual(ROUNDS - 1);
  expect(tenMs(ours.stdout(), 8192)).toBeLessThanOrEqual(ROUNDS);
});

test('conformance on-CPU: a preempted hog, as libbpf-tools cpudist counts it (within 2 %)', async () => {
  // libbpf-tools counts an on-CPU stretch only when the task was preempted: a CPU hog sharing the
  // CPUs with other hogs is preempted at the end of every stretch, so both count the same ones. It
  // stops itself and is continued once both tracers are attached, and is killed before they stop.
  const others = Array.from({ length: os.cpus().length * 2 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  live.push(...others);
  const target = spawn('sh', ['-c', 'kill -STOP $$; while :; do :; done'], { stdio: 'ignore' });
  live.push(target);
  await waitUntil(() => /^State:\s+T/m.test(fs.readFileSync(`/proc/${target.pid}/status`, 'utf8')), 'the hog to stop itself');
  const ours = startTool('cpudist', ['-p', String(target.pid)]);
  const theirs = startReference('cpudist', ['-p', String(target.pid)]);
  await Promise.all([ours.waitFor(/Hit Ctrl-C/), theirs.waitFor(/Hit Ctrl-C/)]);
  await untilAttached([ours, theirs]);
  const switchIns = () => Number(fs.readFileSync(`/proc/${target.pid}/schedstat`, 'utf8').split(' ')[2]);
  const from = switchIns();
  target.kill('SIGCONT');
  await waitUntil(() => switchIns() >= from + 100, '100 switch-ins of the hog', 60000);
  target.kill('SIGKILL');
  await new Promise(r => target.once('exit', r));
  expect(await Promise.all([ours.stop(), theirs.stop()])).toEqual([0, 0]);
  const [a, b] = [total(ours.stdout()), total(theirs.stdout())];
  console.log(`cpudist on-CPU conformance: bpfkit ${a}, libbpf-tools ${b} stretches of a preempted hog`);
  expect(b).toBeGreaterThanOrEqual(99);
  // ours usually also counts the last stretch, ended by the kill, and the one a SIGSTOP ends; the tools
  // attach and stop at slightly different moments, so a stretch at either end may be either's alone
  expect(Math.abs(a - b)).toBeLessThanOrEqual(Math.max(3, 0.02 * b));
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('cpudist', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['1', '2', '3'], ['-P', '-L'], ['x'], ['1', '0']]);
  expectRefusedUnprivileged('cpudist');
  const ok = runTool('cpudist', ['-mT', '1', '1']);
  expect(ok.code).toBe(0);
});
