// so1stbyte on the real kernel: a server in one namespace of the test network (netns.ts) waits a known
// 100 ms after each accept before it sends its first byte; N sessions from the other namespace, by a
// Python client (blocking connect, recv) and a node one (non-blocking connect, epoll, read until
// EAGAIN ends): each client's section counts exactly N, every one >= 100 ms and no later than the
// client measured itself.
import { createTestNetwork, type TestNetwork } from './netns.js';
import { expectUsageErrors, histogramRows, startTool, waitUntil } from './helpers.js';
import { bucketOf, jsonRecords, namedPeer, sectionRows } from './soconn-work.js';

const PORT = 9150;
const N = 5;
const HOLD_MS = 100;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

const low = (bucket: string) => Number(bucket.split('-')[0]);

test('N sessions whose server waits 100 ms: N first bytes, each in a bucket from 100 ms to the client\'s own time', async () => {
  const t = startTool('so1stbyte', []);
  const j = startTool('so1stbyte', ['--json']);
  await t.waitFor(/Tracing IP socket first-read-byte latency\. Ctrl-C to end\./);
  await waitUntil(() => j.stderr().includes('Tracing IP socket first-read-byte latency'), 'the JSON run attached');
  const server = await net.run('server', namedPeer('sofb-srv', 'listen', String(PORT), String(N), String(HOLD_MS)), /^pid (\d+)/);
  await server.waitLines(/^listening/, 1);
  const client = await net.run('client', namedPeer('sofb-cli', 'firstbyte', '4', net.server.v4, String(PORT), String(N)), /^pid (\d+)/);
  const us = (await client.waitLines(/^firstbyte (\d+) 1$/, N)).map(m => Number(m[1]));
  await Promise.all([client.exited, server.exited]);
  // the node client (tcp-peer.mjs) over IPv6
  const nodeServer = await net.peer('server', net.server.v6, PORT + 1, N, HOLD_MS);
  const nodeClient = await net.peer('client', net.server.v6, PORT + 1, N);
  await nodeClient.waitLines(/^connected /, N);
  await Promise.all([nodeServer.exited, nodeClient.exited]);
  expect(await t.stop()).toBe(0);
  expect(await j.stop()).toBe(0);
  const rows = sectionRows(t.stdout(), 'process', `sofb-cli ${client.pid}`);
  expect(rows.reduce((a, [, n]) => a + n, 0)).toBe(N);
  expect(low(rows[0][0])).toBeGreaterThanOrEqual(low(bucketOf(HOLD_MS * 1000)));
  expect(low(rows[rows.length - 1][0])).toBeLessThanOrEqual(low(bucketOf(Math.max(...us))));
  const nodeRows = sectionRows(t.stdout(), 'process', `${nodeClient.comm} ${nodeClient.pid}`);
  expect(nodeRows.reduce((a, [, n]) => a + n, 0)).toBe(N);
  expect(low(nodeRows[0][0])).toBeGreaterThanOrEqual(low(bucketOf(HOLD_MS * 1000)));
  const record = jsonRecords(j.stdout()).find(r => r.kind === 'histogram');
  expect(record).toMatchObject({ val_type: 'usecs', section_by: 'process' });
  expect(record.sections.find((s: any) => s.key === `sofb-cli ${client.pid}`)?.total).toBe(N);
  expect(record.sections.find((s: any) => s.key === `${nodeClient.comm} ${nodeClient.pid}`)?.total).toBe(N);
});

test('-p filters; an interval run ends by itself', async () => {
  const byPid = startTool('so1stbyte', ['-p', String(process.pid), '-T', '2', '1']);
  await byPid.waitFor(/Ctrl-C to end/);
  const server = await net.run('server', namedPeer('sofb-srv', 'listen', String(PORT + 2), '1'), /^pid (\d+)/);
  await server.waitLines(/^listening/, 1);
  const client = await net.run('client', namedPeer('sofb-pid', 'firstbyte', '4', net.server.v4, String(PORT + 2), '1'), /^pid (\d+)/);
  await client.waitLines(/^firstbyte/, 1);
  expect(await byPid.exited).toBe(0);
  expect(byPid.stdout()).not.toContain('sofb-pid');
  expect(histogramRows(byPid.stdout())).toEqual([]);
  expect(byPid.stdout()).toMatch(/^\d\d:\d\d:\d\d$/m);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('so1stbyte', [['--bogus'], ['-p', 'x'], ['0'], ['1', 'x'], ['1', '2', '3']]);
});
