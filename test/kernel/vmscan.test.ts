// vmscan on the real kernel: a dd reads 96 MiB through the page cache inside a memory cgroup limited
// to 32 MiB, so it must reclaim its cgroup's pages itself. vmscan counts memcg reclaims machine-wide;
// drsnoop --memcg -p, beside it, sees the dd's own (a subset): vmscan shows at least as many memcg
// reclaims, and at least their time. The host never runs short: the pressure stays in the cgroup.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectRefusedUnprivileged, expectUsageErrors, startTool } from './helpers.js';
import { cleanFile, dropFromCache, memoryCgroup, type MemoryCgroup } from './memcg.js';

let cg: MemoryCgroup;
let dir: string;
let file: string;
beforeAll(() => {
  cg = memoryCgroup('bpfkit-vmscan', 32 << 20);
  dir = fs.mkdtempSync('/var/tmp/bpfkit-vmscan-');
  file = path.join(dir, 'data');
  cleanFile(file, 96);
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  cg?.remove();
});

test('memcg reclaim at a cgroup\'s limit: at least the reclaims (and their time) drsnoop sees for the dd', async () => {
  dropFromCache(file);
  const dd = cg.gated(['dd', `if=${file}`, 'of=/dev/null', 'bs=1M']);
  const vmscan = startTool('vmscan', ['--json', '600']);
  const text = startTool('vmscan', ['600']);
  const drsnoop = startTool('drsnoop', ['--json', '--memcg', '-p', String(dd.pid)]);
  for (const t of [vmscan, text, drsnoop]) await attached(t);
  dd.release();
  expect(await dd.exited).toBe(0);
  expect([await vmscan.stop(), await text.stop(), await drsnoop.stop()]).toEqual([0, 0, 0]);
  expect(cg.limitHits()).toBeGreaterThan(0);

  const reclaims = drsnoop.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l)).filter(r => r.reclaim === 'memcg');
  expect(reclaims.length).toBeGreaterThan(0);
  const ddMs = reclaims.reduce((a, r) => a + r.latency_ms, 0);
  const [record] = vmscan.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(validateRecord(record)).toEqual([]);
  const row = record.rows[0];
  console.log(`vmscan: ${row.memcg_reclaims} memcg reclaims, ${row.memcg_reclaim_ms.toFixed(2)} ms; drsnoop: the dd's ${reclaims.length}, ${ddMs.toFixed(2)} ms`);
  expect(row.memcg_reclaims).toBeGreaterThanOrEqual(reclaims.length);
  // each program stamps its own begin and end, one after the other on the same hit: the same reclaim may
  // differ by the programs run between them (2.3 us a reclaim seen in CI, at load): 10 us a reclaim allowed
  expect(row.memcg_reclaim_ms).toBeGreaterThanOrEqual(ddMs * 0.99 - 0.01 * reclaims.length);

  const lines = text.stdout().trim().split('\n');
  expect(lines[0]).toBe('Tracing VM scanner... Hit Ctrl-C to end.');
  expect(lines[1]).toBe('TIME         S-SLABms  D-RECLAIMms  M-RECLAIMms KSWAPD WRITEPAGE');
  expect(lines[2]).toMatch(/^\d\d:\d\d:\d\d +\d+ +\d+ +\d+ +\d+ +\d+$/);
  expect(Number(lines[2].trim().split(/\s+/)[3])).toBeGreaterThanOrEqual(Math.floor(ddMs * 0.99 - 0.01));
}, 120_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('vmscan', [['-p', '1'], ['0'], ['1', '0'], ['x']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('vmscan');
});
