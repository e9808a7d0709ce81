// stackcount on the real kernel: workloads held at a pipe until the tool has attached, then making a
// known number of calls from known call sites (built with frame pointers): exact counts on stacks
// whose frames name the callers, for uprobes, USDT and tracepoints, in every output form.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, buildC, buildHeldProgram, expectUsageErrors, runTool, startHeld, startTool, tmpDir, type HeldProcess, type Running } from './helpers.js';

const dir = tmpDir('bpfkit-stackcount-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One call site per function: `bpfkit_caller` mallocs n times, called from main. */
const CALLERS = `
__attribute__((noinline)) void bpfkit_caller(int n)
{
	for (int i = 0; i < n; i++) {
		void *volatile p = malloc(48 + i);
		free(p);
	}
	asm volatile("");
}
__attribute__((noinline)) void bpfkit_other_caller(int n) { bpfkit_caller(n); asm volatile(""); }
`;

/** Runs stackcount on a held workload: attached, released, its work done, Ctrl-C. */
async function countWhile(w: HeldProcess, args: string[]): Promise<{ tool: Running; code: number | null }> {
  const tool = startTool('stackcount', args);
  try {
    if (args.includes('--json') || args.includes('-f')) await attached(tool); // no banner
    else await tool.waitFor(/Hit Ctrl-C to end\./, 60000);
    w.go();
    await w.done;
    return { tool, code: await tool.stop() };
  } finally {
    w.end();
  }
}

interface TextStack { frames: string[]; process?: string; count: number }

/** BCC's multi-line layout -> stacks: "  frame" lines, an optional "    comm [pid]", "    count". */
function parseStacks(stdout: string): TextStack[] {
  const body = stdout.slice(stdout.indexOf('Hit Ctrl-C to end.\n') + 19).replace(/Detaching\.\.\.\n$/, '');
  return body.split('\n\n').map(b => b.split('\n').filter(Boolean)).filter(l => l.length).map(lines => {
    const count = Number(/^ {4}(\d+)$/.exec(lines.pop()!)![1]);
    const last = lines.at(-1);
    const process = last && /^ {4}\S.* \[\d+\]$/.test(last) ? lines.pop()!.trim() : undefined;
    for (const l of lines) expect(l).toMatch(/^ {2}\S|^ {4}--$/);
    return { frames: lines.map(l => l.trim()), process, count };
  });
}

test('-p PID c:malloc: exactly N on the stack malloc <- bpfkit_caller <- main, BCC\'s layout', async () => {
  const bin = buildHeldProgram(path.join(dir, 'mallocs'), 'bpfkit_caller(1234);', CALLERS);
  const w = startHeld(bin);
  const r = await countWhile(w, ['-U', '-p', String(w.pid), 'c:malloc']);
  expect(r.code).toBe(0);
  expect(r.tool.stdout()).toMatch(/^Tracing 1 functions for "c:malloc"\.\.\. Hit Ctrl-C to end\.\n\n/);
  expect(r.tool.stdout()).toMatch(/\n\nDetaching\.\.\.\n$/);
  const stacks = parseStacks(r.tool.stdout()).filter(s => s.frames.includes('bpfkit_caller'));
  expect(stacks).toHaveLength(1);
  const [s] = stacks;
  expect(s!.count).toBe(1234);
  expect(s!.process).toBeUndefined(); // -p named the process: BCC prints no comm line
  expect(s!.frames.slice(0, 3)).toEqual(['malloc', 'bpfkit_caller', 'main']);
}, 90_000);

test('two call sites, two stacks: each with its own count; -s offsets and -v addresses', async () => {
  const bin = buildHeldProgram(path.join(dir, 'two-sites'), 'bpfkit_caller(300); bpfkit_other_caller(700);', CALLERS);
  const w = startHeld(bin);
  const r = await countWhile(w, ['-U', '-s', '-v', '-p', String(w.pid), 'c:malloc']);
  expect(r.code).toBe(0);
  const stacks = parseStacks(r.tool.stdout()).filter(s => s.frames.some(f => f.includes('bpfkit_caller')));
  const names = (s: TextStack) => s.frames.map(f => /^[0-9a-f]+ +(\S+)\+0x[0-9a-f]+$/.exec(f)?.[1] ?? f);
  // smallest count first, as BCC sorts: the direct call from main, then the one through bpfkit_other_caller
  expect(stacks.map(s => [names(s).slice(0, 3), s.count])).toEqual([
    [['malloc', 'bpfkit_caller', 'main'], 300],
    [['malloc', 'bpfkit_caller', 'bpfkit_other_caller'], 700],
  ]);
  // "%-16x " then name+offset: the address is the frame's, inside the named function
  for (const f of stacks.flatMap(s => s.frames)) expect(f).toMatch(/^[0-9a-f]{1,16} +\S+\+0x[0-9a-f]+$|^[0-9a-f]{1,16} +\[unknown\]$/);
}, 90_000);

test('USDT: a C program\'s sdt probe fired N times: N counted on the stack through its caller', async () => {
  const bin = buildHeldProgram(path.join(dir, 'sdt'), 'for (int i = 0; i < 777; i++) bpfkit_fire(i);',
    `#include <sys/sdt.h>
__attribute__((noinline)) void bpfkit_after(void) { asm volatile(""); }
/* not a leaf (gcc gives leaves no frame): the probe site is past the frame's set-up */
__attribute__((noinline)) void bpfkit_fire(int i) { DTRACE_PROBE1(bpfkit, tick, i); bpfkit_after(); }`);
  const w = startHeld(bin);
  const r = await countWhile(w, ['-p', String(w.pid), `u:${bin}:tick`]);
  expect(r.code).toBe(0);
  const stacks = parseStacks(r.tool.stdout());
  expect(stacks.map(s => [s.frames.slice(0, 2), s.count])).toEqual([[['bpfkit_fire', 'main'], 777]]);
}, 90_000);

test('-K t:sched:sched_switch while a child sleeps: a stack through schedule and the nanosleep syscall, all processes together', async () => {
  const bin = path.join(dir, 'sleeper');
  buildC(bin, `#include <time.h>
int main(void) { struct timespec ts = { 0, 20000000 }; for (int i = 0; i < 50; i++) nanosleep(&ts, 0); return 0; }`);
  const tool = startTool('stackcount', ['-K', 't:sched:sched_switch']);
  await tool.waitFor(/Hit Ctrl-C to end\./, 60000);
  await new Promise(resolve => spawn(bin).on('exit', resolve));
  expect(await tool.stop()).toBe(0);
  const stacks = parseStacks(tool.stdout());
  for (const s of stacks) expect(s.process).toBeUndefined(); // -K on a kernel probe: not split by process
  const sleeps = stacks.filter(s => s.frames.includes('__x64_sys_nanosleep') || s.frames.includes('__x64_sys_clock_nanosleep'));
  expect(sleeps.length).toBeGreaterThan(0);
  const total = sleeps.reduce((a, s) => a + s.count, 0);
  expect(total).toBeGreaterThanOrEqual(50);
  for (const s of sleeps) {
    expect(s.frames[0]).toBe('__schedule'); // the tracepoint's caller; the BPF program's own frames are not shown
    expect(s.frames).toContain('schedule');
  }
}, 90_000);

test('-P splits by process: two processes with the same stack, each with its comm, PID and own count', async () => {
  const bin = buildHeldProgram(path.join(dir, 'per-pid'), 'int n = atoi(getenv("N")); for (int i = 0; i < n; i++) syscall(SYS_getppid);');
  const a = startHeld('env', ['N=200', bin]), b = startHeld('env', ['N=500', bin]);
  const tool = startTool('stackcount', ['-P', '-K', 't:syscalls:sys_enter_getppid']);
  try {
    await tool.waitFor(/Hit Ctrl-C to end\./, 60000);
    a.go();
    b.go();
    await Promise.all([a.done, b.done]);
    expect(await tool.stop()).toBe(0);
  } finally {
    a.end();
    b.end();
  }
  const stacks = parseStacks(tool.stdout());
  const of = (pid: number) => stacks.filter(s => s.process === `per-pid [${pid}]`).reduce((n, s) => n + s.count, 0);
  expect([of(a.pid), of(b.pid)]).toEqual([200, 500]);
}, 90_000);

test('-f folded lines, --json stacks records and --flamegraph from the same kind of run', async () => {
  const bin = buildHeldProgram(path.join(dir, 'forms'), 'bpfkit_caller(400);', CALLERS);
  let w = startHeld(bin);
  const f = await countWhile(w, ['-U', '-f', '-p', String(w.pid), 'c:malloc']);
  expect(f.code).toBe(0);
  const line = f.tool.stdout().split('\n').find(l => l.includes('bpfkit_caller'))!;
  // comm, user frames from the root, the count: BCC's folded order
  expect(line).toMatch(/^forms;.*;main;bpfkit_caller;malloc 400$/);
  expect(f.tool.stdout()).not.toContain('Tracing');

  w = startHeld(bin);
  const svg = path.join(dir, 'malloc.svg');
  const j = await countWhile(w, ['--json', '--flamegraph', svg, '-p', String(w.pid), 'c:malloc']);
  expect(j.code).toBe(0);
  const records = j.tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(validateRecord(records[0])).toEqual([]);
  expect(records[0]).toMatchObject({ tool: 'stackcount', kind: 'stacks', value_field: 'count' });
  const mine = records[0].stacks.filter((s: any) => s.user_stack?.includes('bpfkit_caller'));
  expect(mine).toEqual([expect.objectContaining({ pid: w.pid, comm: 'forms', count: 400, kernel_stack: [] })]);
  expect(mine[0].user_stack.slice(0, 3)).toEqual(['malloc', 'bpfkit_caller', 'main']);
  const drawn = fs.readFileSync(svg, 'utf8');
  expect(drawn).toMatch(/^<\?xml|^<svg/);
  expect(drawn).toContain('bpfkit_caller');
}, 120_000);

test('--debug prints the generated C; -D seconds ends the run by itself', () => {
  const r = runTool('stackcount', ['--debug', '-D', '1', '-K', 't:sched:sched_switch'], { timeoutMs: 60000 });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('SEC("tracepoint")');
  expect(r.stdout).toContain('bpf_get_stackid(ctx, &stack_traces, 0)');
  expect(r.stdout).toMatch(/Detaching\.\.\.\n$/);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('stackcount', [[], ['-K', '-U', 'c:malloc'], ['x:y:z:w'], ['t:sched:no_such_event_bpfkit'], ['-c', '9999', 'c:malloc'], ['-i', '0', 'c:malloc'], ['-f', '-s', 'c:malloc']]);
  expect(runTool('stackcount', ['t:sched:no_such_event_bpfkit']).stderr).toBe("stackcount: no tracepoint matches 't:sched:no_such_event_bpfkit'\n");
});

const hasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe');
(hasKprobes ? test.skip : test)('kernel functions without kprobes: the one line naming the missing feature (the VM lane counts them)', () => {
  const r = runTool('stackcount', ['-D', '1', 'vfs_read']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'stackcount: kernel functions need kprobes: this kernel was built without CONFIG_KPROBES\n' });
});
