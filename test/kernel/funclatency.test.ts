// funclatency on the real kernel: test programs whose functions sleep known times, held until the tool
// has attached (-p), run under SCHED_FIFO so that a busy machine does not stretch their sleeps:
// every call in its bucket (or above it: steal time still can, see rowsFrom), the count exact; nested and recursive calls each timed; the same
// histogram as libbpf-tools funclatency on the same calls.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, countFrom, expectUsageErrors, heldProgram, histogramRows, rowsFrom, runTool, startReference, startTool, tmpDir, traceHeld } from './helpers.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const NAP = `__attribute__((noinline)) void bpfkit_nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, 0);
}`;

/** work10() sleeps 10 ms; quick() returns at once. */
const TEN_MS = `${NAP}
__attribute__((noinline)) int bpfkit_work10(int i) { bpfkit_nap(10); return i; }
__attribute__((noinline)) int bpfkit_quick(int i) { asm volatile(""); return i + 1; }`;


test('a function that sleeps 10 ms, called 20 times: -u puts all 20 in 8192 -> 16383 (or above), count 20; BCC\'s layout', async () => {
  const p = heldProgram(path.join(dir, 'ten'), TEN_MS, 'for (int i = 0; i < 20; i++) bpfkit_work10(i);', { realtime: true });
  const bin = path.join(dir, 'ten');
  const { tool, code } = await traceHeld('funclatency', ['-u', '-p', String(p.pid), `${bin}:bpfkit_work10`], p);
  expect(code).toBe(0);
  const out = tool.stdout();
  const rows = histogramRows(out);
  expect(rowsFrom(rows, 8192)).toEqual({ '8192+': 20 });
  expect(out).toMatch(new RegExp(`^Tracing 1 functions for "${bin}:bpfkit_work10"\\.\\.\\. Hit Ctrl-C to end\\.\\n\\n {5}usecs {15}: count {5}distribution\\n`));
  const avg = /\navg = (\d+) usecs, total: (\d+) usecs, count: 20\n\nDetaching\.\.\.\n$/.exec(out);
  expect(avg).not.toBeNull();
  expect(Number(avg![1])).toBeGreaterThanOrEqual(10000);
  expect(Number(avg![1])).toBeLessThanOrEqual(Number(rows.at(-1)![0].split('-')[1])); // within the rows
  expect(Math.abs(Number(avg![2]) - 20 * Number(avg![1]))).toBeLessThan(20);
});

test('nested and recursive calls are each timed: rec(2) lasts 16 ms, rec(1) 8, rec(0) 4 (a sleep is never shorter)', async () => {
  // each level naps as long as all below it: the three durations are a power of two apart
  const functions = `${NAP}
__attribute__((noinline)) int bpfkit_rec(int n) { bpfkit_nap(n ? 4 << (n - 1) : 4); int r = n > 0 ? bpfkit_rec(n - 1) : 0; asm volatile("" ::: "memory"); return r + 1; }`;
  const p = heldProgram(path.join(dir, 'rec'), functions, 'for (int i = 0; i < 8; i++) bpfkit_rec(2);', { realtime: true });
  const { tool, code } = await traceHeld('funclatency', ['-m', '-p', String(p.pid), `${path.join(dir, 'rec')}:bpfkit_rec`], p);
  expect(code).toBe(0);
  // 24 calls: 8 of at least 16 ms, 16 of at least 8, all of at least 4
  const rows = histogramRows(tool.stdout());
  expect([rowsFrom(rows, 4), countFrom(rows, 8) >= 16, countFrom(rows, 16) >= 8]).toEqual([{ '4+': 24 }, true, true]);
  expect(tool.stdout()).toMatch(/\navg = \d+ msecs, total: \d+ msecs, count: 24\n/);
});

test('-l 1 times only the outermost of nested calls (the deeper ones are counted out, not mismatched)', async () => {
  const functions = `${NAP}
__attribute__((noinline)) int bpfkit_rec1(int n) { bpfkit_nap(6); int r = n > 0 ? bpfkit_rec1(n - 1) : 0; asm volatile("" ::: "memory"); return r + 1; }`;
  const p = heldProgram(path.join(dir, 'rec1'), functions, 'for (int i = 0; i < 5; i++) bpfkit_rec1(2);', { realtime: true });
  const { tool } = await traceHeld('funclatency', ['-m', '-l', '1', '-p', String(p.pid), `${path.join(dir, 'rec1')}:bpfkit_rec1`], p);
  expect(rowsFrom(histogramRows(tool.stdout()), 16)).toEqual({ '16+': 5 });
});

test('-F: one histogram per function, as "Function = name [PID]"; a traced function inside another timed too', async () => {
  const bin = path.join(dir, 'two');
  const p = heldProgram(bin, TEN_MS, 'for (int i = 0; i < 6; i++) bpfkit_work10(i); for (int i = 0; i < 300; i++) bpfkit_quick(i);', { realtime: true });
  const { tool } = await traceHeld('funclatency', ['-F', '-u', '-p', String(p.pid), `${bin}:bpfkit_*`], p);
  const out = tool.stdout();
  expect(out).toContain('Tracing 3 functions for');
  const sections = new Map(out.split(/\nFunction = /).slice(1).map(s => [s.split('\n')[0]!, histogramRows(s)]));
  expect([...sections.keys()]).toEqual([`bpfkit_nap [${p.pid}]`, `bpfkit_quick [${p.pid}]`, `bpfkit_work10 [${p.pid}]`]);
  // work10 calls nap: both last 10 ms
  expect(rowsFrom(sections.get(`bpfkit_nap [${p.pid}]`)!, 8192)).toEqual({ '8192+': 6 });
  expect(rowsFrom(sections.get(`bpfkit_work10 [${p.pid}]`)!, 8192)).toEqual({ '8192+': 6 });
  expect(sections.get(`bpfkit_quick [${p.pid}]`)!.reduce((a, [, n]) => a + n, 0)).toBe(300);
  expect(out).toMatch(/\navg = \d+ usecs, total: \d+ usecs, count: 312\n/);
});

test('user functions without -p: a histogram per function and process, as BCC (two processes, one program)', async () => {
  const bin = path.join(dir, 'ten');
  const a = heldProgram(bin, TEN_MS, 'for (int i = 0; i < 20; i++) bpfkit_work10(i);', { realtime: true });
  const b = heldProgram(bin, TEN_MS, 'for (int i = 0; i < 20; i++) bpfkit_work10(i);', { realtime: true });
  const tool = startTool('funclatency', ['-u', `${bin}:bpfkit_work10`]);
  try {
    await attached(tool);
    await Promise.all([a.release(), b.release()]);
    expect(await tool.stop()).toBe(0);
  } finally {
    a.end();
    b.end();
  }
  const sections = new Map(tool.stdout().split(/\nFunction = /).slice(1).map(s => [s.split('\n')[0]!, histogramRows(s)]));
  expect([...sections.keys()]).toEqual([`bpfkit_work10 [${a.pid}]`, `bpfkit_work10 [${b.pid}]`]);
  for (const rows of sections.values()) expect(rowsFrom(rows, 8192)).toEqual({ '8192+': 20 });
});

test('the same histogram as libbpf-tools funclatency on the same calls', async () => {
  const bin = path.join(dir, 'ten');
  const p = heldProgram(bin, TEN_MS, 'for (int i = 0; i < 15; i++) bpfkit_work10(i);', { realtime: true });
  await p.started(); // libbpf-tools' ":func" is a function of the -p process's executable
  const reference = startReference('funclatency', ['-u', '-p', String(p.pid), ':bpfkit_work10']);
  await reference.waitFor(/Tracing /, 60000);
  const { tool } = await traceHeld('funclatency', ['-u', '-p', String(p.pid), `${bin}:bpfkit_work10`], p);
  await reference.stop();
  const theirs = histogramRows(reference.stdout());
  expect(rowsFrom(theirs, 8192)).toEqual({ '8192+': 15 });
  expect(histogramRows(tool.stdout())).toEqual(theirs);
});

test('--json: a histogram record with BCC\'s summary (average, sum, count)', async () => {
  const bin = path.join(dir, 'ten');
  const p = heldProgram(bin, TEN_MS, 'for (int i = 0; i < 12; i++) bpfkit_work10(i);', { realtime: true });
  const { tool, code } = await traceHeld('funclatency', ['--json', '-m', '-p', String(p.pid), `${bin}:bpfkit_work10`], p);
  expect(code).toBe(0);
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(validateRecord(records[0])).toEqual([]);
  expect(records[0]).toMatchObject({ tool: 'funclatency', kind: 'histogram', val_type: 'msecs', total: 12, summary: { count: 12 } });
  expect(records[0].buckets.filter((b: { count: number }) => b.count)).toEqual([{ start: 8, end: 15, count: 12 }]);
  expect(records[0].summary.average).toBeGreaterThanOrEqual(10);
  expect(tool.stderr()).toMatch(/^Tracing 1 functions for .*Hit Ctrl-C to end\.\n$/);
});

test('-i, -T and -d: a histogram per interval, with its time; ends by itself', () => {
  const r = runTool('funclatency', ['-T', '-i', '1', '-d', '2', '-u', 'c:nanosleep'], { timeoutMs: 60000 });
  expect(r.code).toBe(0);
  const prints = r.stdout.split(/\n(?=\n\d\d:\d\d:\d\d\n)/).slice(1);
  expect(prints).toHaveLength(2);
  expect(r.stdout.trimEnd().endsWith('Detaching...')).toBe(true);
});

test('-D prints the generated C (the latency pairing in it)', () => {
  const r = runTool('funclatency', ['-D', '-d', '1', 'c:nanosleep'], { timeoutMs: 60000 });
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('bpfkit_push_call(ctx, probe_id)');
  expect(r.stderr).toContain('SEC("uretprobe")');
});

test('bad input: one line, exit 2, naming what is wrong', () => {
  expectUsageErrors('funclatency', [[], ['t:sched:sched_switch'], ['r::vfs_read'], ['-u', '-m', 'c:read'], ['-l', '0', 'c:read'],
    ['nosuchlib_bpfkit:foo'], ['-i', 'x', 'c:read'], ['c:bpfkit_no_such_function']]);
  expect(runTool('funclatency', ['t:sched:sched_switch']).stderr)
    .toBe("funclatency: cannot parse 't:sched:sched_switch': tracepoint probes are not supported here (only kernel function, user function)\n");
});

const hasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe');
(hasKprobes ? test.skip : test)('kernel functions without kprobes: the one line naming the missing feature (the VM lane times them)', () => {
  const r = runTool('funclatency', ['-u', 'vfs_read']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'funclatency: kernel functions need kprobes: this kernel was built without CONFIG_KPROBES\n' });
});
