// offcputime on the real kernel: a C program sleeps 10 x 100 ms in nanosleep(); the time blocked under
// the nanosleep syscall's stack must be ~1 s, and agree with Debian's libbpf-tools offcputime traced
// on the same run. The program exits before either prints: only ours still names its user frames.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { buildC, untilAttached, expectRefusedUnprivileged, expectUsageErrors, startReference, startTool, tmpDir, type Running } from './helpers.js';

const dir = tmpDir('bpfkit-offcpu-');
const sleeper = path.join(dir, 'sleeper');
const source = `
#include <time.h>
#include <unistd.h>
int main(void)
{
	char go;
	if (read(0, &go, 1) != 1) /* started once the tracers are ready */
		return 1;
	struct timespec ts = { 0, 100000000 };
	for (int i = 0; i < 10; i++)
		nanosleep(&ts, NULL);
	return 0;
}
`;

beforeAll(() => buildC(sleeper, source));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let child: ChildProcess | undefined;
afterEach(() => child?.kill('SIGKILL'));

/** Runs the sleeper under the tracers: each is started with its PID, and it starts once they attached. */
async function traced(start: (pid: number) => Running[]) {
  child = spawn(sleeper, [], { stdio: ['pipe', 'ignore', 'ignore'] });
  const tracers = start(child.pid!);
  await untilAttached(tracers); // stdbuf execs libbpf-tools' in place: the same PID
  child.stdin!.end('x');
  const exited = new Promise(r => child!.on('exit', r));
  await Promise.all([exited, ...tracers.map(t => t.exited)]);
  return tracers.map(t => ({ code: t.child.exitCode, stdout: t.stdout(), stderr: t.stderr() }));
}

/** libbpf-tools' multi-line output: the total of the stacks through nanosleep. */
function referenceNanosleepUs(text: string): number {
  return text.split('\n\n').filter(b => /nanosleep/.test(b)).reduce((a, b) => a + Number(/^ +(\d+)\s*$/m.exec(b.trim().split('\n').at(-1)!)?.[1] ?? 0), 0);
}

test('-p PID: ~1 s blocked under the nanosleep syscall, as libbpf-tools offcputime measures it', async () => {
  const [ours, ref] = await traced(pid => [startTool('offcputime', ['--json', '-p', String(pid), '4']), startReference('offcputime', ['-p', String(pid), '4'])]);
  expect(ours.code).toBe(0);
  const records = ours.stdout.trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(validateRecord(records[0])).toEqual([]);
  const sleeping = records[0].stacks.filter((s: any) => s.kernel_stack?.includes('__x64_sys_clock_nanosleep') || s.kernel_stack?.includes('__x64_sys_nanosleep'));
  const total = sleeping.reduce((a: number, s: any) => a + s.total_us, 0);
  const reference = referenceNanosleepUs(ref.stdout);
  console.log(`offcputime: ${total} us under nanosleep; libbpf-tools offcputime: ${reference} us`);
  expect(total).toBeGreaterThanOrEqual(800_000);
  expect(total).toBeLessThanOrEqual(1_200_000);
  expect(Math.abs(total - reference) / reference).toBeLessThan(0.05);
  // the stack as it blocked: the scheduler at the top, no frames of the tracing programs
  expect(sleeping[0].kernel_stack.slice(0, 2)).toEqual(['__schedule', 'schedule']);
  expect(sleeping[0].kernel_stack).toContain('do_nanosleep');
  expect(sleeping[0].user_stack).toEqual(expect.arrayContaining([expect.stringMatching(/^(clock_nanosleep|__nanosleep|nanosleep)/)]));
  expect(sleeping[0]).toMatchObject({ pid: child!.pid, tgid: child!.pid, comm: 'sleeper' });
}, 60_000);

test('text, folded and --flamegraph: the same stack; -m drops shorter blocks', async () => {
  const svg = path.join(dir, 'off.svg');
  const [text, folded, longOnly] = await traced(pid => [
    startTool('offcputime', ['-p', String(pid), '3']),
    startTool('offcputime', ['-f', '--flamegraph', svg, '-p', String(pid), '3']),
    startTool('offcputime', ['-f', '-m', '200000', '-p', String(pid), '3']),
  ]);
  expect(text.stdout.split('\n')[0]).toBe(`Tracing off-CPU time (us) of PIDs ${child!.pid} by user + kernel stack for 3 secs.`);
  expect(text.stdout).toMatch(/^ {4}__schedule\n {4}schedule\n {4}do_nanosleep\n/m);
  expect(text.stdout).toContain(`    -                sleeper (${child!.pid})\n`);
  const line = folded.stdout.split('\n').find(l => l.includes('do_nanosleep'))!;
  expect(line).toMatch(/^sleeper;.*;entry_SYSCALL_64_after_hwframe;.*;do_nanosleep;schedule;__schedule \d+$/);
  expect(Number(line.split(' ').at(-1))).toBeGreaterThan(800_000);
  expect(fs.readFileSync(svg, 'utf8')).toMatch(/data-name="do_nanosleep_\[k\]"/);
  expect(longOnly.stdout.split('\n').filter(l => l.includes('nanosleep'))).toEqual([]); // each sleep is 100 ms < 200 ms
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('offcputime', [['-p', 'x'], ['-p', '1', '-t', '1'], ['-u', '-k'], ['-U', '-K'], ['-f', '-s'], ['-k', '-U'], ['-m', '10', '-M', '5'], ['0'], ['--state', '-1']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('offcputime');
});
