// slabratetop on the real kernel: a program creates and closes 2,000 Unix sockets; with -p its
// allocations alone: sock_inode_cache (one socket inode each) shows exactly 2,000 allocations of its
// object size (/proc/slabinfo), and the two largest rows are the sockets' caches, 2,000 each: the
// inode's and the socket's own, which the kernel has merged into a cache of the same object size
// (here signal_cache: the tracepoint, as BCC's kprobe, names the cache it was merged into).
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, startTool, tmpDir, untilAttached } from './helpers.js';

const dir = tmpDir('bpfkit-slabratetop-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const SOCKETS = 2000;
const BODY = `for (int i = 0; i < ${SOCKETS}; i++)
		close(socket(AF_UNIX, SOCK_STREAM, 0));`;

function objectSize(cache: string): number {
  const line = fs.readFileSync('/proc/slabinfo', 'utf8').split('\n').find(l => l.startsWith(`${cache} `))!;
  return Number(line.trim().split(/\s+/)[3]);
}

test(`${SOCKETS} sockets: exactly ${SOCKETS} sock_inode_cache allocations, among the two largest rows`, async () => {
  const program = heldProgram(path.join(dir, 'sockets'), '#include <sys/socket.h>', BODY);
  await program.started();
  const pid = String(program.pid);
  // one interval, longer than the work: it ends on Ctrl-C with everything in it
  const text = startTool('slabratetop', ['-C', '-p', pid, '600']);
  const json = startTool('slabratetop', ['--json', '-s', 'alloc', '-p', pid, '600']);
  await untilAttached([text, json]);
  await program.release();
  expect([await text.stop(), await json.stop()]).toEqual([0, 0]);
  program.end();
  const size = objectSize('sock_inode_cache');
  const lines = text.stdout().split('\n');
  expect(lines[0]).toBe('Tracing... Output every 600 secs. Hit Ctrl-C to end');
  expect(lines[2]).toMatch(/^\d\d:\d\d:\d\d loadavg: /);
  const header = lines.indexOf('CACHE                            ALLOCS      BYTES');
  expect(header).toBeGreaterThan(0);
  const rows = lines.slice(header + 1, -2).map(l => l.split(/\s+/));
  expect(rows.find(r => r[0] === 'sock_inode_cache')).toEqual(['sock_inode_cache', String(SOCKETS), String(SOCKETS * size)]);
  expect(rows.slice(0, 2).map(r => r[1])).toEqual([String(SOCKETS), String(SOCKETS)]);
  expect(rows.slice(0, 2).map(r => r[0])).toContain('sock_inode_cache');
  expect(lines.at(-2)).toBe('Detaching...');
  const [record] = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(validateRecord(record)).toEqual([]);
  expect(record).toMatchObject({ kind: 'top', sort_by: 'allocs' });
  expect(record.rows.find((r: any) => r.cache === 'sock_inode_cache')).toEqual({ cache: 'sock_inode_cache', allocs: SOCKETS, bytes: SOCKETS * size });
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('slabratetop', [['-p', 'x'], ['-p', '999999999'], ['-r', '0'], ['-s', 'name'], ['--json', '-s', 'cache'], ['0'], ['1', '0']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('slabratetop');
});
