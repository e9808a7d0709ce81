// funcslower on the real kernel: a test program whose function sleeps 5 ms and 20 ms alternately
// (SCHED_FIFO, held until the tool has attached): above 10 ms exactly the 20 ms calls are reported,
// with their return value, arguments and stacks.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, heldProgram, runTool, tmpDir, traceHeld } from './helpers.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const CALLS = 10;
const bin = path.join(dir, 'alternate');
/** bpfkit_slow(ms, tag) sleeps ms and returns ms + 1000: 5 ms, 20 ms, 5 ms, ... */
const FUNCTIONS = `__attribute__((noinline)) long bpfkit_slow(int ms, long tag)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, 0);
	asm volatile("" ::: "memory");
	return ms + 1000;
}
__attribute__((noinline)) void bpfkit_caller(int i) { bpfkit_slow(i % 2 ? 20 : 5, 0xbeef00 + i); asm volatile(""); }`;
const BODY = `for (int i = 0; i < ${CALLS}; i++) bpfkit_caller(i);`;

async function around(args: string[]) {
  const p = heldProgram(bin, FUNCTIONS, BODY, { realtime: true });
  return { ...(await traceHeld('funcslower', ['-p', String(p.pid), ...args], p)), pid: p.pid };
}

test('-u 10000: exactly the 20 ms calls, one line each in BCC\'s columns, their return values', async () => {
  const { tool, code, pid } = await around(['-u', '10000', `${bin}:bpfkit_slow`]);
  expect(code).toBe(0);
  const lines = tool.stdout().split('\n');
  expect(lines[0]).toBe('Tracing function calls slower than 10000 us... Ctrl+C to quit.');
  expect(lines[1]).toBe('COMM           PID    LAT(us)             RVAL FUNC');
  const rows = lines.slice(2).filter(Boolean);
  expect(rows).toHaveLength(CALLS / 2);
  for (const row of rows) {
    const m = /^(\S+) +(\d+) +(\d+\.\d\d) +([0-9a-f]+) (\S+) $/.exec(row);
    expect(m).not.toBeNull();
    expect([m![1], Number(m![2]), m![4], m![5]]).toEqual(['alternate', pid, (1020).toString(16), `${bin}:bpfkit_slow`]);
    expect(Number(m![3])).toBeGreaterThanOrEqual(20000);
  }
});

test('-m 1 -a 2 -t: every call, its first two arguments in hex, seconds since the first', async () => {
  const { tool } = await around(['-m', '1', '-a', '2', '-t', `${bin}:bpfkit_slow`]);
  const lines = tool.stdout().split('\n');
  expect(lines[1]).toBe('TIME       COMM           PID    LAT(ms)             RVAL FUNC ARGS');
  const rows = lines.slice(2).filter(Boolean).map(l => /^(\d+\.\d{6}) +alternate +\d+ +(\d+\.\d\d) +([0-9a-f]+) \S+ (0x[0-9a-f]+) (0x[0-9a-f]+)$/.exec(l));
  expect(rows.every(Boolean)).toBe(true);
  expect(rows.map(m => [m![4], m![5], m![3]])).toEqual(Array.from({ length: CALLS }, (_, i) =>
    [`0x${(i % 2 ? 20 : 5).toString(16)}`, `0x${(0xbeef00 + i).toString(16)}`, (i % 2 ? 1020 : 1005).toString(16)]));
  expect(Number(rows[0]![1])).toBe(0);
  const times = rows.map(m => Number(m![1]));
  expect(times).toEqual([...times].sort((a, b) => a - b));
  // the calls take ~125 ms together (5 x 5 ms + 5 x 20 ms)
  expect(times[times.length - 1]).toBeGreaterThan(0.1);
});

test('-U: the user stack under each slow call; -f -U folded, one line per call', async () => {
  const { tool } = await around(['-u', '10000', '-U', `${bin}:bpfkit_slow`]);
  const out = tool.stdout();
  // at the return, the stack is the caller's: bpfkit_caller, then main
  const stacks = out.split(/^alternate .*$/m).slice(1).map(s => s.split('\n').filter(Boolean).map(l => l.trim()));
  expect(stacks).toHaveLength(CALLS / 2);
  for (const frames of stacks) expect(frames.slice(0, 2)).toEqual(['bpfkit_caller', 'main']);

  const folded = await around(['-u', '10000', '-f', '-U', `${bin}:bpfkit_slow`]);
  const lines = folded.tool.stdout().split('\n').filter(Boolean);
  expect(lines).toHaveLength(CALLS / 2);
  for (const l of lines) expect(l).toMatch(/^alternate;(.*;)?main;bpfkit_caller 1$/);
});

test('two functions at once; --json events with the call\'s fields', async () => {
  const { tool, code, pid } = await around(['--json', '-u', '4000', '-a', '1', `${bin}:bpfkit_slow`, `${bin}:bpfkit_caller`]);
  expect(code).toBe(0);
  const events = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const e of events) expect(validateRecord(e)).toEqual([]);
  // every call of both is above 4 ms: the caller's return comes after its callee's
  expect(events.map(e => e.func)).toEqual(Array.from({ length: CALLS }, () => [`${bin}:bpfkit_slow`, `${bin}:bpfkit_caller`]).flat());
  const slow = events.filter(e => e.func.endsWith('bpfkit_slow'));
  expect(slow.map(e => [e.pid, e.tid, e.comm, e.retval, e.args])).toEqual(Array.from({ length: CALLS }, (_, i) =>
    [pid, pid, 'alternate', i % 2 ? 1020 : 1005, [i % 2 ? 20 : 5]]));
  expect(slow.every(e => e.latency_us >= (e.args[0] as number) * 1000)).toBe(true);
  expect(tool.stderr()).toBe('Tracing function calls slower than 4000 us... Ctrl+C to quit.\n');
});

test('bad input: one line, exit 2, naming what is wrong', () => {
  expectUsageErrors('funcslower', [[], ['-m', '0', 'c:open'], ['-m', 'x', 'c:open'], ['-m', '1', '-u', '1', 'c:open'], ['-a', '7', 'c:open'],
    ['-f', 'c:open'], ['t:sched:sched_switch'], ['c:bpfkit_no_such_function'], ['c:open', 'nosuchlib_bpfkit:foo']]);
});

const hasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe');
(hasKprobes ? test.skip : test)('kernel functions without kprobes: the one line naming the missing feature', () => {
  const r = runTool('funcslower', ['vfs_write']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'funcslower: kernel functions need kprobes: this kernel was built without CONFIG_KPROBES\n' });
});
