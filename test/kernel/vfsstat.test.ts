// vfsstat on this kernel (no kprobes, fentry refused): it counts at the syscall tracepoints, says so in
// one stderr line, and sees at least the calls a workload makes. Its fentry path is tested in the VM
// lane (test/vm/lane.ts), on a kernel that has both.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, root, runTool, startTool, tmpDir } from './helpers.js';

const SAID = 'vfsstat: counted at syscalls: this kernel has no kprobes or fentry\n';

test('"vfsstat 1 3": BCC\'s columns, three rows, exit 0, and the one stderr line exactly once', () => {
  const r = runTool('vfsstat', ['1', '3']);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(SAID);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toBe('TIME         READ/s  WRITE/s  FSYNC/s   OPEN/s CREATE/s');
  expect(lines.slice(1)).toEqual([0, 1, 2].map(() => expect.stringMatching(/^\d\d:\d\d:\d\d: +\d+ +\d+ +\d+ +\d+ +\d+$/)));
});

test('a workload of exactly N reads, writes, opens with O_CREAT and fsyncs: vfsstat counts at least N of each', async () => {
  const N = 300;
  const dir = tmpDir();
  // node's fs.*Sync: readSync/writeSync at the current position are read(2)/write(2), openSync openat(2)
  const workload = `const fs = require('fs');
const out = fs.openSync(${JSON.stringify(path.join(dir, 'out'))}, 'w'), zero = fs.openSync('/dev/zero', 'r'), buf = Buffer.alloc(1);
for (let i = 0; i < ${N}; i++) fs.writeSync(out, buf);
for (let i = 0; i < ${N}; i++) fs.readSync(zero, buf, 0, 1, null);
for (let i = 0; i < ${N}; i++) fs.fsyncSync(out);
for (let i = 0; i < ${N}; i++) fs.closeSync(fs.openSync(${JSON.stringify(dir)} + '/new' + i, 'wx'));`;
  const t = startTool('vfsstat', ['--json', '1']);
  try {
    await t.waitFor(/^\{.*\}$/m); // a first interval: attached
    const before = t.stdout().trim().split('\n').length;
    expect(spawnSync(process.execPath, ['-e', workload]).status).toBe(0);
    // the interval the workload ended in, and one more: it may straddle two
    await t.waitFor(new RegExp(`^(.*\\n){${before + 2}}`));
    expect(await t.stop()).toBe(0);
    const records = t.stdout().trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records[0]).toMatchObject({ tool: 'vfsstat', kind: 'counts', interval_s: expect.any(Number), rows: [expect.any(Object)] });
    const seen = { read: 0, write: 0, fsync: 0, open: 0, create: 0 };
    for (const r of records.slice(before)) for (const k of Object.keys(seen) as (keyof typeof seen)[]) seen[k] += r.rows[0][k];
    expect(Object.values(seen).every(n => n >= N)).toBe(true);
    expect(t.stderr()).toBe(SAID);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the catalogue says it runs here, on the substitute', () => {
  const r = spawnSync(path.join(root, 'bin', 'bpfkit'), ['list', 'fs'], { encoding: 'utf8' });
  expect(r.stdout).toMatch(/^fs +vfsstat +.* yes, counted at syscalls: this kernel has no kprobes or fentry$/m);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('vfsstat', [['-1'], ['x'], ['1', '2', '3'], ['--bogus']]);
});
