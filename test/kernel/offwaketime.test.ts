// offwaketime and wakeuptime on the real kernel: a pipe ping-pong built here (pinger writes a byte every 50 ms, 10
// times; ponger blocks reading it and writes it back). Ponger's time blocked in the pipe read must be
// paired with pinger's pipe write as its waker, ~0.5 s in all, and agree with libbpf-tools wakeuptime
// (sleep-to-wakeup time per waker stack) traced on the same run, as must our wakeuptime.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { buildC, untilAttached, expectUsageErrors, sleep, startReference, startTool, tmpDir, type Running } from './helpers.js';

const dir = tmpDir('bpfkit-offwake-');
const pingpong = path.join(dir, 'pingpong');
const source = `
#include <stdio.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
/* pinger writes a byte every 50 ms, 10 times; ponger blocks reading it and writes it back */
int main(void)
{
	int p1[2], p2[2];
	char c = 'x';
	if (pipe(p1) || pipe(p2))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, "ponger");
		while (read(p1[0], &c, 1) == 1)
			if (write(p2[1], &c, 1) != 1)
				return 1;
		return 0;
	}
	prctl(PR_SET_NAME, "pinger");
	printf("%d\\n", child);
	fflush(stdout);
	if (read(0, &c, 1) != 1) /* started once the tracers are ready */
		return 1;
	struct timespec ts = { 0, 50000000 };
	for (int i = 0; i < 10; i++) {
		nanosleep(&ts, NULL);
		if (write(p1[1], &c, 1) != 1 || read(p2[0], &c, 1) != 1)
			return 1;
	}
	close(p1[1]);
	return 0;
}
`;

beforeAll(() => buildC(pingpong, source));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let child: ChildProcess | undefined;
let ponger = 0;
afterEach(() => {
  child?.kill('SIGKILL');
  if (ponger) spawnSync('kill', ['-9', String(ponger)]);
});

/** Starts the ping-pong, the tracers given both PIDs, and the game once they have attached. */
async function traced(start: (pinger: number, ponger: number) => Running[]) {
  // both on one CPU (taskset execs in place: the same PID): every wakeup is then made by the writer
  // itself, never through an IPI on another CPU, where whatever task runs there counts as the waker
  child = spawn('taskset', ['-c', '0', pingpong], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', d => (out += d));
  while (!out.includes('\n')) await sleep(20);
  ponger = Number(out.trim());
  const tracers = start(child.pid!, ponger);
  await untilAttached(tracers);
  child.stdin!.end('x');
  const exited = new Promise(r => child!.on('exit', r));
  await Promise.all([exited, ...tracers.map(t => t.exited)]);
  return tracers.map(t => ({ code: t.child.exitCode, stdout: t.stdout(), stderr: t.stderr() }));
}

test('-p PINGER,PONGER: ponger blocked in the pipe read ~0.5 s, woken by pinger\'s write; wakeuptime agrees', async () => {
  const [ours, ref] = await traced((a, b) => [startTool('offwaketime', ['--json', '-p', `${a},${b}`, '6']), startReference('wakeuptime', ['-p', String(b), '6'])]);
  expect(ours.code).toBe(0);
  const records = ours.stdout.trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(validateRecord(records[0])).toEqual([]);
  // ponger's reads, whoever woke them: pinger's write, or (a remote wakeup, through an IPI) whatever
  // task the target CPU was running when the wakeup ran there
  const reads = records[0].stacks.filter((s: any) => s.comm === 'ponger' && s.kernel_stack?.some((f: string) => /pipe_read/.test(f)));
  const total = reads.reduce((a: number, s: any) => a + s.total_us, 0);
  for (const s of reads) {
    expect(s).toMatchObject({ pid: ponger, tgid: ponger });
    expect(s.kernel_stack.slice(0, 2)).toEqual(['__schedule', 'schedule']);
    expect(s.user_stack.join(' ')).toMatch(/\bread\b|__libc_read/);
  }
  const byPinger = reads.filter((s: any) => s.waker_comm === 'pinger');
  expect(byPinger.length).toBeGreaterThan(0);
  for (const s of byPinger) {
    expect(s.waker_pid).toBe(child!.pid);
    expect(s.waker_kernel_stack.join(' ')).toMatch(/pipe_write/);
    expect(s.waker_user_stack.join(' ')).toMatch(/\bwrite\b|__libc_write/);
  }
  // libbpf-tools wakeuptime: "target: ponger" blocks (each waker stack), the microseconds last
  const reference = ref.stdout.split('\n\n').filter(b => /target:\s+ponger/.test(b))
    .reduce((a, b) => a + Number(/(\d+)\s*$/.exec(b.trim())?.[1] ?? 0), 0);
  // wakeuptime sums every block of ponger's, whatever its stack: so do we for the comparison (a block
  // whose stack could not be walked is still ponger's time)
  const everyBlock = records[0].stacks.filter((s: any) => s.comm === 'ponger').reduce((a: number, s: any) => a + s.total_us, 0);
  console.log(`offwaketime: ponger blocked ${everyBlock} us, ${total} us of it in pipe reads (${byPinger.reduce((a: number, s: any) => a + s.total_us, 0)} us woken by pinger itself); libbpf-tools wakeuptime: ${reference} us asleep`);
  // 10 pings 50 ms apart; the first finds ponger already asleep before the tracers attached: 9 x 50 ms
  expect(total).toBeGreaterThanOrEqual(400_000);
  expect(total).toBeLessThanOrEqual(600_000);
  // blocked until back on a CPU (ours) is sleep-to-wakeup (wakeuptime) plus the wait in the run queue
  // and any preemption: never less, and on this busy 2-CPU machine a few ms more per wakeup at most
  expect(everyBlock).toBeGreaterThanOrEqual(reference * 0.99);
  expect(everyBlock).toBeLessThanOrEqual(reference * 1.15);
}, 60_000);

test('text and folded: the waker\'s stack from its root, "--", the blocked stack, the target', async () => {
  const [text, folded] = await traced((a, b) => [startTool('offwaketime', ['-p', `${a},${b}`, '3']), startTool('offwaketime', ['-f', '-p', `${a},${b}`, '3'])]);
  expect(text.stdout.split('\n')[0]).toBe('Tracing blocked time (us) by user + kernel off-CPU and waker stack for 3 secs.');
  const block = text.stdout.split('\n\n').find(b => b.includes(`target:          ponger ${ponger}`) && b.includes('pipe_write'))!;
  expect(block).toMatch(new RegExp(`^ {4}waker: {11}pinger ${child!.pid}\n[\\s\\S]*pipe_write[\\s\\S]*\n {4}-- {15}--\n {4}__schedule\n {4}schedule\n`));
  const line = folded.stdout.split('\n').find(l => l.startsWith('ponger;') && l.includes('pipe_write'))!;
  expect(line).toMatch(/^ponger;.*;schedule;__schedule;--;.*pipe_write.*;pinger \d+$/);
}, 60_000);

test('wakeuptime -p PONGER: ponger\'s sleep-to-wakeup time under pinger\'s pipe_write stack, as libbpf-tools wakeuptime has it', async () => {
  const [text, folded, ref] = await traced((_, b) => [startTool('wakeuptime', ['-p', String(b), '3']), startTool('wakeuptime', ['-f', '-p', String(b), '3']),
    startReference('wakeuptime', ['-p', String(b), '3'])]);
  expect(text.code).toBe(0);
  const block = text.stdout.split('\n\n').find(b => b.includes('    target:          ponger') && b.includes('pipe_write'))!;
  // BCC's layout: target, "address name+offset" from the wakeup outwards, waker, the microseconds
  expect(block).toMatch(/^ {4}target: {10}ponger\n {4}[0-9a-f]{16} ttwu_do_activate\+0x[0-9a-f]+\n {4}[0-9a-f]{16} try_to_wake_up\+0x[0-9a-f]+\n[\s\S]*\n {4}waker: {11}pinger\n {8}\d+$/);
  const lines = folded.stdout.split('\n').filter(l => /;ponger \d+$/.test(l));
  const viaWrite = lines.filter(l => l.startsWith('pinger;') && l.includes('pipe_write'));
  expect(viaWrite.length).toBeGreaterThan(0);
  for (const l of viaWrite) expect(l).toMatch(/^pinger;entry_SYSCALL_64_after_hwframe;do_syscall_64;.*anon_pipe_write;.*;try_to_wake_up;ttwu_do_activate;ponger \d+$/);
  // every wakeup of ponger, whoever ran it (a remote wakeup runs in an IPI on the target CPU)
  const ours = lines.reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
  const reference = ref.stdout.split('\n\n').filter(b => /target:\s+ponger/.test(b))
    .reduce((a, b) => a + Number(/(\d+)\s*$/.exec(b.trim())?.[1] ?? 0), 0);
  console.log(`wakeuptime: ponger ${ours} us asleep (${viaWrite.reduce((a, l) => a + Number(l.split(' ').at(-1)), 0)} us under pinger's pipe_write); libbpf-tools wakeuptime: ${reference} us`);
  expect(ours).toBeGreaterThanOrEqual(400_000);
  expect(Math.abs(ours - reference) / reference).toBeLessThan(0.05);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('wakeuptime', [['-p', 'x'], ['-p', '1', '-u'], ['-m', '9', '-M', '3'], ['0']]);
  expectUsageErrors('offwaketime', [['-p', '1,x'], ['-u', '-k'], ['-U', '-K'], ['-k', '-U'], ['0']]);
});
