// compactsnoop on the real kernel: a shell of known PID writes 1 to /proc/sys/vm/compact_memory, which
// compacts every populated zone of every node once, synchronously, with no order (-1): exactly one line
// per zone that /proc/zoneinfo shows with pages present, in the kernel's zone order, under that PID;
// -K adds the kernel stack, through the sysctl handler. (The compaction costs this VM about 2 s.)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectRefusedUnprivileged, expectUsageErrors, runTool, startTool } from './helpers.js';

/** "ZONE_DMA", ... for each node's zones with pages present, in /proc/zoneinfo's (the kernel's) order. */
function populatedZones(): [number, string][] {
  return [...fs.readFileSync('/proc/zoneinfo', 'utf8').matchAll(/^Node (\d+), zone +(\w+)\n(?:.*\n)*? +present +(\d+)$/gm)]
    .filter(m => Number(m[3]) > 0).map(m => [Number(m[1]), `ZONE_${m[2].toUpperCase()}`]);
}

const STATUSES = ['not_suitable_zone', 'skipped', 'deferred', 'no_suitable_page', 'continue', 'complete', 'partial_skipped', 'contended', 'success'];

test('a manual compaction: one line per populated zone, under the writer\'s PID', async () => {
  const writer = spawn('sh', ['-c', 'read go && echo 1 > /proc/sys/vm/compact_memory'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise(r => writer.on('exit', r));
  const pid = String(writer.pid);
  const text = startTool('compactsnoop', ['-K', '-p', pid]);
  const json = startTool('compactsnoop', ['--json', '-p', pid]);
  await attached(text);
  await attached(json);
  writer.stdin!.end('go\n');
  expect(await exited).toBe(0);
  expect([await text.stop(), await json.stop()]).toEqual([0, 0]);

  const zones = populatedZones();
  expect(zones.length).toBeGreaterThan(0);
  const lines = text.stdout().split('\n');
  expect(lines[0]).toBe('COMM           PID    NODE ZONE         ORDER MODE      LAT(ms)           STATUS');
  const rows = lines.filter(l => /^sh /.test(l)).map(l => l.trim().split(/\s+/));
  expect(rows.map(r => [r[0], r[1], Number(r[2]), r[3], r[4], r[5]])).toEqual(zones.map(([node, zone]) => ['sh', pid, node, zone, '-1', 'SYNC']));
  for (const r of rows) expect(STATUSES).toContain(r[7]);
  expect(text.stdout()).toMatch(/^\tsysctl_compaction_handler\+0x[0-9a-f]+$/m);
  expect(text.stdout()).not.toMatch(/^\tbpf_prog_/m);

  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  expect(records.map(r => [r.pid, r.node, r.zone, r.order, r.mode])).toEqual(zones.map(([node, zone]) => [Number(pid), node, zone, -1, 'SYNC']));
  expect(records.every(r => r.latency_ms >= 0 && STATUSES.includes(r.status))).toBe(true);
}, 120_000);

test('-e: one line naming the missing kretprobe, exit 1', () => {
  const r = runTool('compactsnoop', ['-e']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'compactsnoop: -e reads fragmentation_index() with a kretprobe: this kernel has no kprobes or fentry\n' });
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('compactsnoop', [['-p', 'x'], ['-p', '999999999'], ['-d', '0'], ['extra']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('compactsnoop');
});
