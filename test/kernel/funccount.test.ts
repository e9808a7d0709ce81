// funccount on the real kernel: workloads that make a known number of calls, started first and held
// at a pipe until the tool has attached, then counted with -p: exact counts, every probe kind that
// runs here (syscall tracepoints, other tracepoints, libc, a PIE binary's functions, python's USDT).
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, bpfFdsOf, buildHeldProgram, expectUsageErrors, runTool, startHeld, startTool, tmpDir, type HeldProcess, type Running } from './helpers.js';

const dir = tmpDir();
const python = '/usr/bin/python3.11';

/** Runs funccount on a held workload: attach, release it, wait for its work, Ctrl-C; the FUNC -> COUNT rows. */
async function countWhile(w: HeldProcess, args: string[]): Promise<{ rows: Map<string, number>; tool: Running; code: number | null }> {
  const tool = startTool('funccount', ['-p', String(w.pid), ...args]);
  try {
    await tool.waitFor(/Hit Ctrl-C to end\./, 60000);
    w.go();
    await w.done;
    const code = await tool.stop();
    return { rows: parseRows(tool.stdout()), tool, code };
  } finally {
    w.end();
  }
}

function parseRows(stdout: string): Map<string, number> {
  const rows = new Map<string, number>();
  const table = stdout.slice(stdout.lastIndexOf('FUNC'));
  for (const m of table.matchAll(/^(\S+) +(\d+)$/gm)) rows.set(m[1]!, Number(m[2]));
  return rows;
}

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('exactly 1,000 getppid calls at t:syscalls:sys_enter_getppid; BCC\'s table and "Detaching..."', async () => {
  const bin = buildHeldProgram(path.join(dir, 'getppid'), 'for (int i = 0; i < 1000; i++) syscall(SYS_getppid);');
  const r = await countWhile(startHeld(bin), ['t:syscalls:sys_enter_getppid']);
  expect(r.code).toBe(0);
  expect([...r.rows]).toEqual([['syscalls:sys_enter_getppid', 1000]]);
  expect(r.tool.stdout()).toMatch(/^Tracing 1 functions for "t:syscalls:sys_enter_getppid"\.\.\. Hit Ctrl-C to end\.\n\nFUNC {36}COUNT\nsyscalls:sys_enter_getppid {15}1000\nDetaching\.\.\.\n$/);
});

test('t:syscalls:sys_enter_* : every syscall at one raw sys_enter link; exact counts per syscall, renamed ones too', async () => {
  // uname(2) is the tracepoint sys_enter_newuname, getpgrp(2) keeps its name
  const bin = buildHeldProgram(path.join(dir, 'syscalls'), `struct utsname u;
	for (int i = 0; i < 700; i++) syscall(SYS_getppid);
	for (int i = 0; i < 300; i++) uname(&u);
	for (int i = 0; i < 200; i++) syscall(SYS_getpgrp);`);
  const w = startHeld(bin);
  const tool = startTool('funccount', ['-p', String(w.pid), 't:syscalls:sys_enter_*']);
  try {
    await tool.waitFor(/Tracing (\d+) functions/, 60000);
    // one program on raw_tp/sys_enter: one link, however many syscalls (a perf event each would be ~360)
    expect(bpfFdsOf(tool.child.pid!).links).toBe(1);
    w.go();
    await w.done;
    expect(await tool.stop()).toBe(0);
  } finally {
    w.end();
  }
  const rows = parseRows(tool.stdout());
  expect(rows.get('syscalls:sys_enter_getppid')).toBe(700);
  expect(rows.get('syscalls:sys_enter_newuname')).toBe(300);
  expect(rows.get('syscalls:sys_enter_getpgrp')).toBe(200);
  expect(Number(/Tracing (\d+) functions/.exec(tool.stdout())![1])).toBeGreaterThan(300);
});

test('exits of syscalls too (raw sys_exit), with -r', async () => {
  const bin = buildHeldProgram(path.join(dir, 'exits'), 'for (int i = 0; i < 400; i++) syscall(SYS_getppid);');
  const r = await countWhile(startHeld(bin), ['-r', 't:syscalls:sys_(enter|exit)_getppid$']);
  expect([...r.rows].sort()).toEqual([['syscalls:sys_enter_getppid', 400], ['syscalls:sys_exit_getppid', 400]]);
});

test('c:malloc: exactly N mallocs of the traced process', async () => {
  const bin = buildHeldProgram(path.join(dir, 'mallocs'), 'for (int i = 0; i < 2345; i++) { void *volatile p = malloc(64 + i); free(p); }');
  const other = startHeld(bin); // mallocs too, but is not the -p process
  const r = await countWhile(startHeld(bin), ['c:malloc']);
  other.go();
  other.end();
  expect([...r.rows]).toEqual([['malloc', 2345]]);
});

test('a PIE binary\'s functions by glob: each counted under its name', async () => {
  const bin = buildHeldProgram(path.join(dir, 'pie'), 'for (int i = 0; i < 300; i++) bpfkit_work_a(i); for (int i = 0; i < 700; i++) bpfkit_work_b(i);',
    `__attribute__((noinline)) int bpfkit_work_a(int x) { asm volatile(""); return x + 1; }
__attribute__((noinline)) int bpfkit_work_b(int x) { asm volatile(""); return x + 2; }`);
  const r = await countWhile(startHeld(bin), [`${bin}:bpfkit_work_*`]);
  expect([...r.rows]).toEqual([['bpfkit_work_a', 300], ['bpfkit_work_b', 700]]);
  expect(r.tool.stdout()).toContain(`Tracing 2 functions for "${bin}:bpfkit_work_*"`);
});

test('USDT: python3.11\'s function__entry / function__return for a script calling a function N times', async () => {
  // CPython 3.11 fires function__entry only while a profile or trace function is set (its
  // return probe always): the script sets a no-op profiler around the calls
  const script = path.join(dir, 'calls.py');
  fs.writeFileSync(script, `import sys
def bpfkit_marker(i):
    return i + 1
sys.stdin.read(1)
sys.setprofile(lambda *a: None)
for i in range(1500):
    bpfkit_marker(i)
sys.setprofile(None)
print("done", flush=True)
sys.stdin.read()
`);
  const r = await countWhile(startHeld(python, [script]), [`u:${python}:function__*`]);
  expect(r.rows.get('function__entry')).toBeGreaterThanOrEqual(1500);
  expect(r.rows.get('function__return')).toBeGreaterThanOrEqual(1500);
});

test('-c CPU: only the calls made on that CPU (the workload pinned to CPU 0)', async () => {
  const bin = buildHeldProgram(path.join(dir, 'pinned'), 'for (int i = 0; i < 600; i++) syscall(SYS_getppid);');
  const w = startHeld('taskset', ['-c', '0', bin]);
  const on0 = startTool('funccount', ['-c', '0', '-p', String(w.pid), 't:syscalls:sys_enter_getppid']);
  const on1 = startTool('funccount', ['-c', '1', '-p', String(w.pid), 't:syscalls:sys_enter_getppid']);
  try {
    await Promise.all([on0, on1].map(t => t.waitFor(/Hit Ctrl-C to end\./, 60000)));
    w.go();
    await w.done;
    expect(await on0.stop()).toBe(0);
    expect(await on1.stop()).toBe(0);
  } finally {
    w.end();
  }
  expect([...parseRows(on0.stdout())]).toEqual([['syscalls:sys_enter_getppid', 600]]);
  expect([...parseRows(on1.stdout())]).toEqual([]);
});

test('-i and -T: a table per interval with its time; -d ends by itself', async () => {
  const t = runTool('funccount', ['-T', '-i', '1', '-d', '2', 't:sched:sched_switch'], { timeoutMs: 60000 });
  expect(t.code).toBe(0);
  const tables = t.stdout.split('\n\n').slice(1);
  expect(tables.length).toBe(2);
  for (const table of tables) expect(table).toMatch(/^\d\d:\d\d:\d\d\nFUNC {36}COUNT(\nsched:sched_switch +\d+)?(\nDetaching\.\.\.)?\n?$/);
  expect(t.stdout.trimEnd().endsWith('Detaching...')).toBe(true);
});

test('-D prints the generated C; --json prints counts records', async () => {
  const d = runTool('funccount', ['-D', '-d', '1', 't:sched:sched_switch'], { timeoutMs: 60000 });
  expect(d.code).toBe(0);
  expect(d.stdout).toContain('SEC("tracepoint")');
  expect(d.stdout).toContain('map_increment(counts, probe_id);');

  const bin = buildHeldProgram(path.join(dir, 'json'), 'for (int i = 0; i < 250; i++) syscall(SYS_getppid);');
  const w = startHeld(bin);
  const tool = startTool('funccount', ['--json', '-p', String(w.pid), 't:syscalls:sys_enter_getppid']);
  try {
    await attached(tool);
    w.go();
    await w.done;
    expect(await tool.stop()).toBe(0);
  } finally {
    w.end();
  }
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.length).toBe(1);
  expect(records[0]).toMatchObject({ tool: 'funccount', kind: 'counts', rows: [{ func: 'syscalls:sys_enter_getppid', count: 250 }] });
  expect(validateRecord(records[0])).toEqual([]);
});

test('bad input: one line, exit 2, naming what is wrong', () => {
  expectUsageErrors('funccount', [[], ['x:y:z'], ['t:sched:no_such_event_bpfkit'], ['nosuchlib_bpfkit:foo'], ['-c', '9999', 't:sched:sched_switch'], ['-i', '0', 'vfs_read']]);
  expect(runTool('funccount', ['t:sched:no_such_event_bpfkit']).stderr).toBe("funccount: no tracepoint matches 't:sched:no_such_event_bpfkit'\n");
  expect(runTool('funccount', ['t:sched']).stderr).toBe("funccount: cannot parse 't:sched': a tracepoint is t:category:event\n");
});

const hasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe');
(hasKprobes ? test.skip : test)('kernel functions without kprobes: the one line naming the missing feature (the VM lane counts them)', () => {
  const r = runTool('funccount', ['-d', '1', 'vfs_*']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'funccount: kernel functions need kprobes: this kernel was built without CONFIG_KPROBES\n' });
});
