// soconnlat on the real kernel: N blocking connects and N non-blocking ones completed by poll(), from the
// client namespace of the test network (netns.ts) to a server in the other, under a process name of the
// test's own: its histogram counts exactly 2N connects, none in a bucket above the longest connect the
// client measured itself (the syscalls are inside the client's own timing).
import { createTestNetwork, type TestNetwork } from './netns.js';
import { expectUsageErrors, startTool, waitUntil } from './helpers.js';
import { bucketOf, jsonRecords, namedPeer, sectionRows } from './soconn-work.js';

const PORT = 9140;
const N = 4;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

async function connects(comm: string) {
  const server = await net.run('server', namedPeer('soclat-srv', 'listen', String(PORT), String(2 * N)), /^pid (\d+)/);
  await server.waitLines(/^listening/, 1);
  const blocking = await net.run('client', namedPeer(comm, 'connect', ...Array(N).fill(`4,${net.server.v4},${PORT},block`)), /^pid (\d+)/);
  const blockingUs = (await blocking.waitLines(/^result 0 (\d+)/, N)).map(m => Number(m[1]));
  await blocking.exited;
  const polled = await net.run('client', namedPeer(comm, 'pollconnect', '6', net.server.v6, String(PORT), String(N)), /^pid (\d+)/);
  const us = (await polled.waitLines(/^connected (\d+)/, N)).map(m => Number(m[1]));
  await Promise.all([polled.exited, server.exited]);
  return { maxUs: Math.max(...blockingUs, ...us), pids: [blocking.pid, polled.pid] };
}

test('blocking and poll()-completed connects: 2N in the histogram, within the client\'s own times', async () => {
  const t = startTool('soconnlat', []);
  const j = startTool('soconnlat', ['--json']);
  await t.waitFor(/Tracing IP connect\(\) latency\. Ctrl-C to end\./);
  await waitUntil(() => j.stderr().includes('Tracing IP connect() latency'), 'the JSON run attached');
  const { maxUs } = await connects('soclat-cli');
  expect(await t.stop()).toBe(0);
  expect(await j.stop()).toBe(0);
  const rows = sectionRows(t.stdout(), 'comm', 'soclat-cli');
  expect(rows.reduce((a, [, n]) => a + n, 0)).toBe(2 * N);
  const highest = Number(rows[rows.length - 1][0].split('-')[0]);
  expect(highest).toBeLessThanOrEqual(Number(bucketOf(maxUs).split('-')[0]));
  const record = jsonRecords(j.stdout()).find(r => r.kind === 'histogram');
  expect(record).toMatchObject({ val_type: 'usecs', section_by: 'comm' });
  expect(record.sections.find((s: any) => s.key === 'soclat-cli')?.total).toBe(2 * N);
});

test('-s: per user stack and process; -p filters', async () => {
  const t = startTool('soconnlat', ['-s']);
  const byPid = startTool('soconnlat', ['-p', String(process.pid)]);
  await t.waitFor(/with ustacks\. Ctrl-C to end\./);
  await byPid.waitFor(/Ctrl-C to end/);
  const { pids } = await connects('soclat-stk');
  expect(await t.stop()).toBe(0);
  expect(await byPid.stop()).toBe(0);
  // one section per (stack, process): each client's connects under its own "- comm (pid)" line
  const counted = pids.map(pid => {
    const at = t.stdout().indexOf(`soclat-stk (${pid})\n`);
    expect(at).toBeGreaterThan(0);
    const next = t.stdout().indexOf('\n\n', at);
    return sectionRows(`\nx = y\n${t.stdout().slice(at, next)}`, 'x', 'y').reduce((a, [, n]) => a + n, 0);
  });
  expect(counted).toEqual([N, N]);
  expect(byPid.stdout()).not.toContain('soclat');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('soconnlat', [['--bogus'], ['-p', 'x'], ['0'], ['1', 'x'], ['1', '2', '3']]);
});
