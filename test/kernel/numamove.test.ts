// numamove on the real kernel. This VM has one NUMA node: NUMA balancing moves nothing, the tool says so
// in one line and counts 0, as the kernel's own counter (numa_pages_migrated in /proc/vmstat) does over
// the same run: on a machine with more nodes the same comparison holds (pages moved for NUMA balancing
// are exactly what that counter counts).
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, runTool } from './helpers.js';

const vmstat = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(fs.readFileSync('/proc/vmstat', 'utf8'))![1]);

test('the pages it counts as moved for NUMA balancing are the kernel\'s numa_pages_migrated', () => {
  const before = vmstat('numa_pages_migrated');
  const r = runTool('numamove', ['--json', '0.5', '2']);
  const after = vmstat('numa_pages_migrated');
  expect(r.code).toBe(0);
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(2);
  for (const rec of records) expect(validateRecord(rec)).toEqual([]);
  const moved = records.reduce((a, rec) => a + rec.rows[0].pages_moved, 0);
  expect(moved).toBeLessThanOrEqual(after - before);
  const nodes = fs.readFileSync('/sys/devices/system/node/online', 'utf8').trim();
  if (nodes === '0') {
    expect(after - before).toBe(0);
    expect(records.map(rec => rec.rows[0])).toEqual([0, 1].map(() => ({ migrations: 0, migration_ms: 0, pages_moved: 0, pages_failed: 0 })));
    expect(r.stderr).toBe('numamove: this machine has one NUMA node: NUMA balancing moves no pages here, every count is 0\nTracing NUMA page migrations... Hit Ctrl-C to end.\n');
  }
});

test('text: the header and a row per interval', () => {
  const r = runTool('numamove', ['0.5', '2']);
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines.slice(0, 2)).toEqual(['Tracing NUMA page migrations... Hit Ctrl-C to end.', 'TIME          NUMA_migrations   NUMA_migrations_ms']);
  expect(lines.slice(2)).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d +\d+ +\d+$/), expect.stringMatching(/^\d\d:\d\d:\d\d +\d+ +\d+$/)]);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('numamove', [['-p', '1'], ['0'], ['1', '0']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('numamove');
});
