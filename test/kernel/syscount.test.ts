// syscount on the real kernel: a child that makes exactly 1,000 getppid calls, 500 failing opens and
// 20 sleeps of 5 ms, once told to (a byte on fd 3, after the tracers attached).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bpfFdsOf, buildC, expectRefusedUnprivileged, expectUsageErrors, runTool, startReference, startTool, tmpDir, unloaded, untilAttached, type Running } from './helpers.js';

const source = `
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void)
{
	char go;
	if (read(3, &go, 1) != 1)
		return 1;
	for (int i = 0; i < 1000; i++)
		syscall(SYS_getppid);
	for (int i = 0; i < 500; i++)
		open("/nonexistent/bpfkit", O_RDONLY);
	struct timespec five_ms = { 0, 5 * 1000 * 1000 }, from, to;
	clock_gettime(CLOCK_MONOTONIC, &from);
	for (int i = 0; i < 20; i++)
		nanosleep(&five_ms, 0);
	clock_gettime(CLOCK_MONOTONIC, &to);
	printf("slept %.6f ms\\n", (to.tv_sec - from.tv_sec) * 1e3 + (to.tv_nsec - from.tv_nsec) / 1e6);
	return 0;
}
`;
const dir = tmpDir();
const worker = path.join(dir, 'calls');
beforeAll(() => buildC(worker, source));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const live: ChildProcess[] = [];
/** How long the worker's 20 sleeps took by its own clock, read around the loop (ms). */
const slept = new Map<ChildProcess, () => number>();
afterEach(() => live.splice(0).forEach(c => c.kill('SIGKILL')));

/** The worker, waiting for its byte; `viaShell` runs it as a child of a shell (for -c PPID). */
function startWorker(viaShell = false): ChildProcess {
  const [cmd, args] = viaShell ? ['sh', ['-c', `${worker} & wait`]] : [worker, []];
  const w = spawn(cmd, args as string[], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
  let said = '';
  w.stdout!.on('data', d => (said += d));
  slept.set(w, () => Number(/slept ([\d.]+) ms/.exec(said)?.[1]));
  live.push(w);
  return w;
}

/**
 * Lets the worker go once every tracer printed its banner (libbpf-tools syscount prints it after
 * attaching; it holds no link fds to check) and ours hold their links, then stops them.
 */
async function run(w: ChildProcess, ours: Running[], references: Running[] = []): Promise<void> {
  const tracers = [...ours, ...references];
  await Promise.all(tracers.map(t => t.waitFor(/Ctrl\+C to quit/)));
  await untilAttached(ours);
  const ended = new Promise(r => w.once('exit', r));
  (w.stdio[3] as NodeJS.WritableStream).end('g');
  await ended;
  expect(await Promise.all(tracers.map(t => t.stop()))).toEqual(tracers.map(() => 0));
}

/** The rows of the last table: key (syscall, or "PID COMM") -> count [, time]. */
function table(text: string): Map<string, number[]> {
  const blocks = text.split(/^\[\d\d:\d\d:\d\d\]$/m);
  const rows = blocks[blocks.length - 1].split('\n').slice(2).filter(l => l && l !== 'Detaching...');
  return new Map(rows.map(l => {
    const m = /^(.*?) +(\d+)(?: +([\d.]+))?$/.exec(l)!;
    return [m[1].trim(), m[3] === undefined ? [Number(m[2])] : [Number(m[2]), Number(m[3])]];
  }));
}

test('-p: the child\'s 1,000 getppid calls counted as 1000, its 500 opens as 500; Ctrl-C prints, exits 0, unloads', async () => {
  const w = startWorker();
  const t = startTool('syscount', ['-p', String(w.pid)]);
  await t.waitFor(/Ctrl\+C to quit/);
  const progs = bpfFdsOf(t.child.pid!).programs;
  expect(progs.length).toBe(1); // sys_exit only: no start times without -L
  await run(w, [t]);
  const out = t.stdout();
  expect(out.split('\n')[0]).toBe('Tracing syscalls, printing top 10... Ctrl+C to quit.');
  expect(out).toMatch(/^\[\d\d:\d\d:\d\d\]\nSYSCALL                   COUNT\n/m);
  expect(out.trimEnd().split('\n').pop()).toBe('Detaching...');
  const rows = table(out);
  expect(rows.get('getppid')).toEqual([1000]);
  expect(rows.get('open') ?? rows.get('openat')).toEqual([500]);
  expect(rows.get('nanosleep') ?? rows.get('clock_nanosleep')).toEqual([20]);
  await unloaded(progs);
});

test('-L -m: 20 sleeps of 5 ms are 20 calls totalling 100 ms at least and at most what the worker timed; -x and -e ENOENT count the 500 failed opens only', async () => {
  const w = startWorker();
  const p = String(w.pid);
  const lat = startTool('syscount', ['-L', '-m', '-p', p]);
  const failed = startTool('syscount', ['-x', '-p', p]);
  const enoent = startTool('syscount', ['-e', 'ENOENT', '-p', p]);
  const eacces = startTool('syscount', ['-e', '13', '-p', p]);
  await run(w, [lat, failed, enoent, eacces]);
  expect(lat.stdout()).toMatch(/^SYSCALL                   COUNT        TIME \(ms\)$/m);
  const [n, ms] = table(lat.stdout()).get('clock_nanosleep') ?? table(lat.stdout()).get('nanosleep')!;
  expect(n).toBe(20);
  expect(ms).toBeGreaterThanOrEqual(100);
  expect(ms).toBeLessThanOrEqual(slept.get(w)!()); // the syscalls are inside the worker's two clock reads
  // -L sorts by time: the sleeps first
  expect([...table(lat.stdout()).keys()][0]).toMatch(/nanosleep/);
  expect(failed.stdout().split('\n')[0]).toBe('Tracing failed syscalls, printing top 10... Ctrl+C to quit.');
  for (const t of [failed, enoent]) expect([...table(t.stdout())]).toEqual([[expect.stringMatching(/^open(at)?$/), [500]]]);
  expect(table(eacces.stdout()).size).toBe(0);
});

test('-P --syscall getppid; -c PPID; --json: the child\'s row of 1000', async () => {
  const w = startWorker(true);
  const byProcess = startTool('syscount', ['-P', '--syscall', 'getppid']);
  const children = startTool('syscount', ['-c', String(w.pid)]);
  const asJson = startTool('syscount', ['-P', '--syscall', 'getppid', '--json']);
  await Promise.all([byProcess, children].map(t => t.waitFor(/Ctrl\+C to quit/)));
  await untilAttached([asJson]);
  await run(w, [byProcess, children]); // asJson is still running: stop it after
  expect(await asJson.stop()).toBe(0);
  expect(byProcess.stdout().split('\n')[0]).toBe("Tracing syscall 'getppid'... Ctrl+C to quit.");
  expect(byProcess.stdout()).toMatch(/^PID    COMM               COUNT$/m);
  const row = [...table(byProcess.stdout())].find(([k]) => k.endsWith(' calls'));
  expect(row).toBeDefined();
  expect(row![1]).toEqual([1000]);
  const workerPid = Number(row![0].split(' ')[0]);
  expect(workerPid).not.toBe(w.pid); // the shell's child
  expect(table(children.stdout()).get('getppid')).toEqual([1000]);
  const record = JSON.parse(asJson.stdout().trim().split('\n').pop()!);
  expect(record).toMatchObject({ tool: 'syscount', kind: 'counts' });
  expect(record.rows).toContainEqual({ pid: workerPid, comm: 'calls', count: 1000 });
});

test('conformance: the same counts as libbpf-tools syscount -p, syscall by syscall', async () => {
  const w = startWorker();
  const ours = startTool('syscount', ['-p', String(w.pid), '-T', '50']);
  const theirs = startReference('syscount', ['-p', String(w.pid), '-T', '50']);
  await run(w, [ours], [theirs]);
  const [a, b] = [table(ours.stdout()), table(theirs.stdout())];
  console.log(`syscount conformance: bpfkit ${JSON.stringify([...a])}, libbpf-tools ${JSON.stringify([...b])}`);
  expect(a.get('getppid')).toEqual([1000]);
  expect(a).toEqual(b);
});

test('-l lists names; bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  const list = runTool('syscount', ['-l']);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/(^| )getppid( |$)/m);
  expect(list.stdout.split('\n')[0]).toMatch(/^\w+ +\w+ +\w+ +\w+ *$/); // four columns, BCC's layout
  expectUsageErrors('syscount', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['--syscall', 'nosuchcall'], ['-e', 'EBOGUS'],
    ['-T', '0'], ['-i', 'x'], ['-d', '-1'], ['-p', '1', '-t', '1'], ['extra']]);
  expectRefusedUnprivileged('syscount');
});
