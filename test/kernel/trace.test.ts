// trace on the real kernel: workloads held at a pipe until the tool has attached, then released to make
// known calls; the lines trace prints are compared with what the workload did (its PID, its comm, the
// exact argument values it passed). Tracepoints, uprobes/uretprobes and python's USDT run here; kernel
// functions run in the VM lane (test/vm/lane.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, buildHeldWorkload, expectUsageErrors, runTool, startHeld, startTool, tmpDir, type HeldProcess, type Running } from './helpers.js';

const dir = tmpDir('bpfkit-trace-');
const python = '/usr/bin/python3.11';
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A C workload held on stdin (see startHeld): `body` runs once released. */
const workload = (name: string, body: string, extra = '') => buildHeldWorkload(dir, name, body, extra);

/** Runs trace with args while the held workload does its work; Ctrl-C after it is done. */
async function traceWhile(w: HeldProcess, args: string[]): Promise<{ tool: Running; code: number | null; lines: string[] }> {
  const tool = startTool('trace', args);
  try {
    await tool.waitFor(/PID +TID +COMM +FUNC/, 60000);
    w.go();
    await w.done;
    // the last records are in the ring buffer: give the reader a moment before Ctrl-C
    await new Promise(r => setTimeout(r, 300));
    const code = await tool.stop();
    return { tool, code, lines: tool.stdout().split('\n').slice(1).filter(Boolean) };
  } finally {
    w.end();
  }
}

const markerFunction = `__attribute__((noinline)) long bpfkit_marker(long value, const char *name)
{
	asm volatile("" :: "r"(name));
	return value * 2 + name[0];
}`;

test('t:syscalls:sys_enter_openat "%s", args->filename: the marker path a child opens, with its PID, TID and comm', async () => {
  const marker = path.join(dir, 'trace-marker-openat');
  fs.writeFileSync(marker, 'x');
  const tool = startTool('trace', ['t:syscalls:sys_enter_openat "%s", args->filename']);
  await tool.waitFor(/^PID +TID +COMM +FUNC +-$/m, 60000);
  const child = spawn('cat', [marker], { stdio: 'ignore' });
  await new Promise(r => child.on('exit', r));
  const line = await tool.waitFor(new RegExp(`^(\\d+) +(\\d+) +(\\S+) +sys_enter_openat +${marker}$`, 'm'));
  expect([Number(line[1]), Number(line[2]), line[3]]).toEqual([child.pid, child.pid, 'cat']);
  // BCC's columns: %-7d %-7d %-15s %-16s %s
  expect(line[0]).toBe(`${String(child.pid).padEnd(7)} ${String(child.pid).padEnd(7)} ${'cat'.padEnd(15)} ${'sys_enter_openat'.padEnd(16)} ${marker}`);
  expect(await tool.stop()).toBe(0);
});

test('a uprobe prints the exact values a binary passes; a uretprobe the value returned, filtered', async () => {
  const bin = workload('values', `const char *name = "hello-marker";
	const char *volatile touch = name; /* read the string's page in: a uprobe cannot fault it in */
	if (!touch[0])
		return 1;
	for (int i = 0; i < 3; i++) bpfkit_marker(123456789 + i, name);
	bpfkit_marker(-100, name);`, markerFunction);
  const w = startHeld(bin);
  const r = await traceWhile(w, ['-p', String(w.pid), `p:${bin}:bpfkit_marker "v=%d name=%s", arg1, arg2`,
    `r:${bin}:bpfkit_marker (retval > 0) "ret=%ld", retval`]);
  expect(r.code).toBe(0);
  const messages = r.lines.map(l => {
    const f = /^(\d+) +(\d+) +(\S+) +(\S+) +(.*)$/.exec(l)!;
    expect([Number(f[1]), f[3], f[4]]).toEqual([w.pid, 'values', 'bpfkit_marker']);
    return f[5];
  });
  const h = 'h'.charCodeAt(0);
  expect(messages).toEqual([
    'v=123456789 name=hello-marker', `ret=${123456789 * 2 + h}`,
    'v=123456790 name=hello-marker', `ret=${123456790 * 2 + h}`,
    'v=123456791 name=hello-marker', `ret=${123456791 * 2 + h}`,
    'v=-100 name=hello-marker', // its return (-200 + h) < 0: filtered out (retval is signed, as a long)
  ]);
});

test('USDT: python3.11\'s function__entry prints the function name of a script', async () => {
  // CPython 3.11 fires function__entry only while a profile function is set
  const script = path.join(dir, 'calls.py');
  fs.writeFileSync(script, `import sys
def bpfkit_marker_function(i):
    return i + 1
sys.stdin.read(1)
sys.setprofile(lambda *a: None)
for i in range(3):
    bpfkit_marker_function(i)
sys.setprofile(None)
print("done", flush=True)
sys.stdin.read()
`);
  const w = startHeld(python, [script]);
  const r = await traceWhile(w, ['-p', String(w.pid), '-f', 'bpfkit_marker', `u:${python}:function__entry "%s %s:%d", arg2, arg1, arg3`]);
  expect(r.code).toBe(0);
  expect(r.lines).toEqual(Array(3).fill(`${String(w.pid).padEnd(7)} ${String(w.pid).padEnd(7)} ${'python3.11'.padEnd(15)} ${'function__entry'.padEnd(16)} bpfkit_marker_function ${script}:2`));
});

test('filters in C, -M ends by itself, -n and -f filter in user space, two probes on one tracepoint', async () => {
  const bin = workload('reads', `char buf[8192];
	int fd = open("/dev/zero", O_RDONLY);
	for (int i = 0; i < 5; i++) read(fd, buf, 4242);
	for (int i = 0; i < 5; i++) read(fd, buf, 4243);`);
  const w = startHeld(bin);
  const tool = startTool('trace', ['-p', String(w.pid), '-M', '7', '-n', 'read',
    't:syscalls:sys_enter_read (args->count == 4242) "a %d", args->count',
    't:syscalls:sys_enter_read (args->count > 4242) "b %u fd=%d", args->count, args->fd']);
  await tool.waitFor(/^PID/m, 60000);
  w.go();
  expect(await tool.exited).toBe(0); // -M: after the 7th line, by itself
  w.end();
  const msgs = tool.stdout().split('\n').slice(1).filter(Boolean).map(l => l.replace(/^.*sys_enter_read +/, ''));
  expect(msgs.slice(0, 5)).toEqual(Array(5).fill('a 4242'));
  expect(msgs.slice(5)).toEqual([expect.stringMatching(/^b 4243 fd=\d+$/), expect.stringMatching(/^b 4243 fd=\d+$/)]);

  // -f keeps the messages holding its text; -n a comm that is not the workload's: nothing
  const w2 = startHeld(bin);
  const f = await traceWhile(w2, ['-p', String(w2.pid), '-f', '4243', 't:syscalls:sys_enter_read "%d", args->count']);
  expect(f.lines.map(l => l.replace(/^.* /, ''))).toEqual(Array(5).fill('4243'));
  const w3 = startHeld(bin);
  const n = await traceWhile(w3, ['-p', String(w3.pid), '-n', 'nosuchcomm', 't:syscalls:sys_enter_read "%d", args->count']);
  expect(n.lines).toEqual([]);
});

test('-t -C columns, -D prints the generated C, --json events', async () => {
  const bin = workload('columns', 'for (int i = 0; i < 2; i++) getppid();');
  const w = startHeld(bin);
  const r = await traceWhile(w, ['-t', '-C', '-D', '-p', String(w.pid), 't:syscalls:sys_enter_getppid']);
  expect(r.tool.stdout().split('\n')[0]).toBe('TIME     CPU PID     TID     COMM            FUNC             ');
  expect(r.lines).toHaveLength(2);
  for (const l of r.lines) expect(l).toMatch(new RegExp(`^\\d+\\.\\d{6} \\d +${w.pid} +${w.pid} +columns +sys_enter_getppid +$`));
  expect(r.tool.stderr()).toContain('SEC("tracepoint")');
  expect(r.tool.stderr()).toContain('struct trace_event_0 {');

  const w2 = startHeld(bin);
  const tool = startTool('trace', ['--json', '-p', String(w2.pid), 't:syscalls:sys_enter_getppid "n=%d", 7']);
  await attached(tool);
  w2.go();
  await w2.done;
  await tool.waitFor(/(.*\n){2}/);
  expect(await tool.stop()).toBe(0);
  w2.end();
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(2);
  for (const rec of records) {
    expect(validateRecord(rec)).toEqual([]);
    expect(rec).toMatchObject({ tool: 'trace', kind: 'event', pid: w2.pid, tid: w2.pid, comm: 'columns', func: 'sys_enter_getppid', message: 'n=7' });
  }
});

test('bad probes: one line quoting the bad part, exit 2; a clang error in an expression is shown in the user\'s words', () => {
  const one = (args: string[]) => runTool('trace', args);
  expect(one(['p::do_sys_open "%s']).stderr).toBe(`trace: cannot parse 'p::do_sys_open "%s' at "%s: unterminated string\n`);
  expect(one(['t:syscalls:sys_enter_openat "%s", args->nofield']).stderr)
    .toBe(`trace: cannot parse 't:syscalls:sys_enter_openat "%s", args->nofield' at "nofield": syscalls:sys_enter_openat has no field 'nofield' (it has __syscall_nr, dfd, filename, flags, mode)\n`);
  const clang = one(['t:syscalls:sys_enter_openat (args->flags > ) "%s", args->filename']);
  expect([clang.code, clang.stderr]).toEqual([2, `trace: in 't:syscalls:sys_enter_openat (args->flags > ) "%s", args->filename' at ")": expected expression\n`]);
  expect(one(['t:syscalls:sys_enter_openat "%d", args->flags + bpfkit_nothing']).stderr)
    .toBe(`trace: in 't:syscalls:sys_enter_openat "%d", args->flags + bpfkit_nothing' at "bpfkit_nothing": use of undeclared identifier 'bpfkit_nothing'\n`);
  expect(one(['t:syscalls:sys_enter_openat "%s", retval']).stderr).toMatch(/at "retval": retval is only for return probes/);
  expect(one(['c:malloc "%d %d", arg1']).stderr).toMatch(/the format has 2 conversions but 1 value follows\n$/);
  expect(one(['c:malloc "%q", arg1']).stderr).toMatch(/at "%q": unknown conversion/);
  expectUsageErrors('trace', [
    [], ['x:y:z'], ['t:nosuchcategory:nosuchevent'], ['c:bpfkit_no_such_function'], ['-u', 'c:malloc'], ['-A', 'c:malloc'],
    ['-p', '1', '-L', '1', 'c:malloc'], ['c:malloc (arg1 > 0'], ['c:malloc "%d" arg1'], ['c:malloc "%d", arg7'],
    ['t:syscalls:sys_enter_openat(char *x) "%s", x'], ['u:/usr/bin/python3.11:function__entry "%d", arg9'],
  ]);
});
