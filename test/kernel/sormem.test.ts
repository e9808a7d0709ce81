// sormem on the real kernel: a program of the test's own, in a network namespace of the test (where ping
// sockets are allowed), opens a ping socket with the smallest receive buffer and, not reading it, sends 50
// echo requests of 200 bytes to the loopback: the socket's queue holds a few replies and drops the rest,
// each a "sock_rcvqueue_full" line with that socket's limit; then it reads the ones it queued, and (with
// -p) the limit histogram counts those reads, with the memory still queued. (A raw socket's or UDP's
// full queue drops without that tracepoint on this kernel.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, tmpDir } from './helpers.js';
import { histRows } from './disk-workload.js';
import { traceSockWork } from './sock-work.js';

let dir: string;
const netns = `bpfkit-sormem-${process.pid}`;
beforeAll(() => {
  dir = tmpDir('bpfkit-sormem-');
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['netns', 'exec', netns, 'sh', '-c', 'ip link set lo up && sysctl -q net.ipv4.ping_group_range="0 0"']);
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  execFileSync('ip', ['netns', 'del', netns]);
});

const N = 50;

test('a flooded ping socket that does not read: its drops, with its limit, and its reads near the limit', async () => {
  const { tools: [text, json], said } = await traceSockWork(dir, 'sormemwork', `ping_flood(${N}, 200);`,
    pid => [['sormem', ['-p', pid]], ['sormem', ['--json', '99']]], netns);
  const rcvbuf = Number(/^rcvbuf (\d+)$/m.exec(said)![1]);
  const queued = Number(/^read (\d+)$/m.exec(said)![1]);
  expect(queued).toBeGreaterThan(0);
  const out = text.stdout();
  // every reply the queue did not take was dropped there
  const drops = [...out.matchAll(new RegExp(`^tracepoint:sock:sock_rcvqueue_full rmem_alloc (\\d+) > rcvbuf ${rcvbuf}, skb size (\\d+)$`, 'gm'))];
  expect(drops.length).toBeGreaterThanOrEqual(N - queued);
  for (const [, rmem] of drops) expect(Number(rmem)).toBeGreaterThanOrEqual(rcvbuf);
  // its reads (the queued ones and the last, empty) are under that limit; the other row is node's stdio socket
  const [alloc, limit] = out.split('@rmem_limit:');
  const limitRows = histRows(limit!).filter(r => r.count > 0);
  expect(limitRows.find(r => r.low <= rcvbuf && rcvbuf <= r.high)?.count).toBe(queued + 1);
  // the first read left all but one reply queued: near the limit (more than a third of it)
  const top = histRows(alloc!.split('@rmem_alloc:')[1]!).filter(r => r.count > 0).pop()!;
  if (queued > 1) expect(top.high).toBeGreaterThanOrEqual(rcvbuf / 3);
  expect(text.stderr()).toBe('sormem: socket memory read at sock:sock_recv_length, after the receive: this kernel has no kprobes for sock_recvmsg\n');
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  const events = records.filter(r => r.kind === 'event' && r.event === 'rcvqueue_full' && r.rcvbuf === rcvbuf);
  expect(events.length).toBeGreaterThanOrEqual(N - queued);
  expect(events[0]).toMatchObject({ protocol: null, allocated: null, skb_size: expect.any(Number) });
  expect(records.filter(r => r.kind === 'histogram').map(r => r.histogram)).toEqual(['rmem_alloc', 'rmem_limit']);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('sormem', [['--bogus'], ['0'], ['1', '0'], ['-p', 'x'], ['-p', '999999999'], ['1', '2', '3']]);
});
