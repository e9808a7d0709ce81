// argdist on the real kernel: workloads held until the tool has attached make a known number of calls
// with known arguments; the histograms and counts argdist prints are compared with them. Tracepoints and
// uprobes/uretprobes (with $entry/$latency through entry/return pairs) run here; kernel functions in the
// VM lane (test/vm/lane.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, buildHeldWorkload, expectUsageErrors, runTool, startHeld, startTool, tmpDir, type HeldProcess, type Running } from './helpers.js';

const dir = tmpDir('bpfkit-argdist-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs argdist (cumulative, one long interval) while `work` runs; Ctrl-C prints the totals. */
async function distWhile(pidOf: number, work: () => Promise<void>, args: string[]): Promise<{ tool: Running; code: number | null; last: string }> {
  const tool = startTool('argdist', ['-p', String(pidOf), '-c', '-i', '600', ...args]);
  await attached(tool);
  await work();
  await new Promise(r => setTimeout(r, 200));
  const code = await tool.stop();
  const out = tool.stdout();
  return { tool, code, last: out.slice(out.lastIndexOf('[')) };
}

/** log2 rows "start -> end : count" of a histogram's text. */
function buckets(text: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of text.matchAll(/^ +(\d+) -> \d+ +: (\d+) +\|/gm)) m.set(Number(r[1]), Number(r[2]));
  return m;
}

test('-H t:syscalls:sys_enter_read():u64:args->count on dd bs=4096 count=500: 500 reads in the 4096 bucket', async () => {
  // sh reads its go byte, then becomes dd (same PID for -p); dd also reads 832 bytes of libc and
  // locale.alias (fd 3): the filter keeps reads of its input, fd 0
  const child = spawn('sh', ['-c', 'read x; exec dd if=/dev/zero of=/dev/null bs=4096 count=500 2>/dev/null'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise(r => child.on('exit', r));
  const r = await distWhile(child.pid!, async () => {
    child.stdin!.write('g\n');
    await exited;
  }, ['-H', 't:syscalls:sys_enter_read():u64:args->count:args->fd == 0']);
  expect(r.code).toBe(0);
  expect(r.last).toMatch(/^\[\d\d:\d\d:\d\d\]\n {5}args->count {9}: count {5}distribution\n/);
  const b = buckets(r.last);
  expect(b.get(4096)).toBe(500);
  // sh's own one-byte reads of "g\n" are the only others
  expect([...b].filter(([start, n]) => n && start !== 4096).map(([start]) => start)).toEqual([0]);
});

function mallocs(name: string): HeldProcess {
  return startHeld(buildHeldWorkload(dir, name, `for (int i = 0; i < 300; i++) { void *volatile p = malloc(16); free(p); }
	for (int i = 0; i < 200; i++) { void *volatile p = malloc(5000); free(p); }
	for (int i = 0; i < 7; i++) { void *volatile p = malloc(100000); free(p); }`));
}

test('-C counts exact values (p:c:malloc with a signature), -T keeps the top ones, a filter, #label', async () => {
  const w = mallocs('mallocs');
  const r = await distWhile(w.pid, async () => {
    w.go();
    await w.done;
  }, ['-C', 'p:c:malloc(size_t size):size_t:size', '-C', 'p:c:malloc(size_t size):size_t:size:size > 1000#big ones', '-T', '2',
    '-C', 'p:c:malloc()']);
  w.end();
  expect(r.code).toBe(0);
  expect(r.last.split('\n').slice(1).join('\n')).toBe(`p:c:malloc(size_t size):size_t:size
\tCOUNT      EVENT
\t200        size = 5000
\t300        size = 16
big ones
\tCOUNT      EVENT
\t7          size = 100000
\t200        size = 5000
p:c:malloc()
\tCOUNT      EVENT
\t507        total calls
`);
});

test('return probes: $entry(size) and $latency read what the entry saved; $retval', async () => {
  const w = mallocs('returns');
  const r = await distWhile(w.pid, async () => {
    w.go();
    await w.done;
  }, ['-H', 'r:c:malloc(size_t size):size_t:$entry(size)', '-C', 'r:c:malloc(size_t size):size_t:$entry(size):$latency > 0 && $entry(size) > 50000',
    '-C', 'r:c:malloc():int:$retval != 0']);
  w.end();
  expect(r.code).toBe(0);
  expect(r.last).toContain('r:c:malloc(size_t size):size_t:$entry(size):$latency > 0 && $entry(size) > 50000\n\tCOUNT      EVENT\n\t7          $entry(size) = 100000\n');
  expect(r.last).toContain('r:c:malloc():int:$retval != 0\n\tCOUNT      EVENT\n\t507        $retval != 0 = 1\n');
  const b = buckets(r.last);
  expect([...b].filter(([, n]) => n)).toEqual([[16, 300], [4096, 200], [65536, 7]]);
});

test('-n intervals end by themselves; --json: histogram and counts records', async () => {
  const t = runTool('argdist', ['--json', '-i', '1', '-n', '2', '-H', 't:syscalls:sys_enter_read():u64:args->count', '-C', 't:syscalls:sys_enter_read():int:args->fd'], { timeoutMs: 60000 });
  expect(t.code).toBe(0);
  const records = t.stdout.trim().split('\n').map(l => JSON.parse(l));
  expect(records.map(r => r.kind)).toEqual(['histogram', 'counts', 'histogram', 'counts']);
  for (const rec of records) expect(validateRecord(rec)).toEqual([]);
  // one section per -H histogram, keyed by its probe: what bpfkit export labels it by
  expect(records[0]).toMatchObject({ val_type: 'args->count', section_by: 'probe', sections: [{ key: 't:syscalls:sys_enter_read():u64:args->count' }] });
  for (const row of records[1].rows) expect(row).toMatchObject({ probe: 't:syscalls:sys_enter_read():int:args->fd', event: expect.stringMatching(/^args->fd = \d+$/) });
});

test('bad specifiers: one line quoting the bad part, exit 2; clang errors in the user\'s words', () => {
  expect(runTool('argdist', ['-H', 'p:c:malloc(size_t size):size_t']).stderr).toBe(`argdist: cannot parse 'p:c:malloc(size_t size):size_t' at "size_t": a type needs its expression (type:expr)\n`);
  expect(runTool('argdist', ['-H', 'p:c:malloc(size_t size):size_t:nosize']).stderr)
    .toBe(`argdist: in 'p:c:malloc(size_t size):size_t:nosize' at "nosize": use of undeclared identifier 'nosize'; did you mean 'size'?\n`);
  expect(runTool('argdist', ['-C', 't:syscalls:sys_enter_read():u64:args->cnt']).stderr).toMatch(/at "cnt": syscalls:sys_enter_read has no field 'cnt' \(it has __syscall_nr, fd, buf, count\)\n$/);
  expect(runTool('argdist', ['-H', 'p:c:malloc()']).stderr).toBe(`argdist: cannot parse 'p:c:malloc()': histograms must have expr\n`);
  expectUsageErrors('argdist', [
    [], ['-H', 'x:c:malloc()'], ['-H', 'p:c:malloc'], ['-C', 'p:c:malloc():u64,u64:1'], ['-H', 'p:c:malloc(size_t s):u64,u64:s,s'],
    ['-C', 'r:c:malloc():u64:$entry(size)'], ['-C', 'p:c:malloc():u64:$latency'], ['-C', 'p:c:bpfkit_nothing():u64:1'],
    ['-C', 't:sched:sched_switch(int x):u64:1'], ['-i', '0', '-C', 'p:c:malloc()'], ['-n', 'x', '-C', 'p:c:malloc()'],
  ]);
});
