// funcinterval on the real kernel: a test program calling a function (or a syscall) at a fixed period,
// on absolute deadlines under SCHED_FIFO (so lateness does not add up), held until the tool has
// attached: N calls make N-1 intervals, all in the period's log2 bucket.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, heldProgram, histogramRows, runTool, tmpDir, traceHeld } from './helpers.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Calls `call` n times, one every `ms` milliseconds (TIMER_ABSTIME deadlines). */
const periodic = (n: number, ms: number, call: string) => `struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0; i < ${n}; i++) {
		${call};
		next.tv_nsec += ${ms} * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, 0);
	}`;
const TICK = `__attribute__((noinline)) int bpfkit_tick(int i) { asm volatile(""); return i + 1; }`;


/**
 * Every interval counted (n), most of them in the period's bucket. The program sleeps to absolute
 * deadlines, so a wakeup the machine delivers late makes one long interval and one short one (an idle
 * VM was seen to wake 6-16 ms late): the count is exact, the spread is the machine's.
 */
function expectIntervals(rows: [string, number][], bucket: string, n: number): void {
  expect(rows.reduce((a, [, c]) => a + c, 0)).toBe(n);
  const inBucket = rows.find(([b]) => b === bucket)?.[1] ?? 0;
  expect(inBucket).toBeGreaterThanOrEqual(Math.ceil(n / 2));
  expect(Math.max(...rows.map(([, c]) => c))).toBe(inBucket);
}

async function around(file: string, functions: string, body: string, args: (pid: number) => string[]) {
  const p = heldProgram(path.join(dir, file), functions, body, { realtime: true });
  return traceHeld('funcinterval', args(p.pid), p);
}

test('a function called every 10 ms: -m puts its 29 intervals in 8 -> 15; BCC\'s banner', async () => {
  const bin = path.join(dir, 'tick');
  const { tool, code } = await around('tick', TICK, periodic(30, 10, 'bpfkit_tick(i)'), pid => ['-m', '-p', String(pid), `${bin}:bpfkit_tick`]);
  expect(code).toBe(0);
  expectIntervals(histogramRows(tool.stdout()), '8-15', 29);
  expect(tool.stdout()).toMatch(/^Tracing uprobe function for "bpfkit_tick"\.\.\. Hit Ctrl-C to end\.\n\n {5}msecs {15}: count {5}distribution\n/);
  expect(tool.stdout().endsWith('Detaching...\n')).toBe(true);
});

test('a syscall tracepoint every 3 ms: -u puts its 39 intervals in 2048 -> 4095', async () => {
  const { tool } = await around('getppid', '', periodic(40, 3, 'syscall(SYS_getppid)'), pid => ['-u', '-p', String(pid), 't:syscalls:sys_enter_getppid']);
  expectIntervals(histogramRows(tool.stdout()), '2048-4095', 39);
  expect(tool.stdout()).toMatch(/^Tracing tracepoint for "syscalls:sys_enter_getppid"\.\.\./);
});

test('--json: one histogram record of the intervals', async () => {
  const bin = path.join(dir, 'tick');
  const { tool, code } = await around('tick', TICK, periodic(30, 10, 'bpfkit_tick(i)'), pid => ['--json', '-m', '-p', String(pid), `${bin}:bpfkit_tick`]);
  expect(code).toBe(0);
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(validateRecord(records[0])).toEqual([]);
  expect(records[0]).toMatchObject({ tool: 'funcinterval', kind: 'histogram', val_type: 'msecs', total: 29 });
  expectIntervals(records[0].buckets.filter((b: { count: number }) => b.count).map((b: { start: number; end: number; count: number }): [string, number] => [`${b.start}-${b.end}`, b.count]), '8-15', 29);
});

test('-i, -T and -d on a tracepoint: a histogram per interval with its time; ends by itself', () => {
  const r = runTool('funcinterval', ['-T', '-i', '1', '-d', '2', 't:sched:sched_switch'], { timeoutMs: 60000 });
  expect(r.code).toBe(0);
  expect(r.stdout.split(/\n(?=\n\d\d:\d\d:\d\d\n)/).slice(1)).toHaveLength(2);
  expect(r.stdout.trimEnd().endsWith('Detaching...')).toBe(true);
  // nanoseconds by default: a context switch every few hundred microseconds lands above 1024 ns
  expect(r.stdout).toContain('     nsecs');
});

test('-v prints the generated C', () => {
  const r = runTool('funcinterval', ['-v', '-d', '1', 't:sched:sched_switch'], { timeoutMs: 60000 });
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('SEC("tracepoint")');
  expect(r.stderr).toContain('BPF_HASH(start, u32, u64, 1);');
});

test('bad input: one line, exit 2, naming what is wrong', () => {
  expectUsageErrors('funcinterval', [[], ['-u', '-m', 'c:malloc'], ['t:sched:bpfkit_no_such_event'], ['-d', '0', 'c:malloc'], ['nosuchlib_bpfkit:foo']]);
});

const hasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe');
(hasKprobes ? test.skip : test)('kernel functions without kprobes: the one line naming the missing feature', () => {
  const r = runTool('funcinterval', ['vfs_read']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'funcinterval: kernel functions need kprobes: this kernel was built without CONFIG_KPROBES\n' });
});
