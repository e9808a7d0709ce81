// soconnect on the real kernel: from the client namespace of the test network (netns.ts), a blocking
// connect to a listening port (Success), one to a closed port (ECONNREFUSED: "Connect refused") and a
// non-blocking one over IPv6 (EINPROGRESS: "In progress"), each shown with the caller's PID and exactly
// the address and port asked for; the client's own results agree, and its own timing bounds LAT(us).
import path from 'node:path';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, root, startTool, waitUntil } from './helpers.js';
import { jsonRecords } from './soconn-work.js';

const script = path.join(root, 'test', 'fixtures', 'soconn-peer.py');
const PORT = 9110, CLOSED = 9111;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

/** Three connects from the client namespace; resolves with the client's PID and the errnos it saw. */
async function threeConnects() {
  const server = await net.run('server', ['python3', script, 'listen', String(PORT), '2'], /^pid (\d+)/);
  await server.waitLines(/^listening/, 1);
  const client = await net.run('client', ['python3', script, 'connect',
    `4,${net.server.v4},${PORT},block`, `4,${net.server.v4},${CLOSED},block`, `6,${net.server.v6},${PORT},nonblock`], /^pid (\d+)/);
  const lines = await client.waitLines(/^result (\d+) (\d+)/, 3);
  const [results, us] = [lines.map(m => Number(m[1])), lines.map(m => Number(m[2]))];
  await client.exited;
  server.child.kill();
  return { pid: client.pid, results, us };
}

test('a connect, a refused one and a non-blocking one: address, port and result', async () => {
  const t = startTool('soconnect', []);
  const j = startTool('soconnect', ['--json', '-t']);
  await t.waitFor(/^PID +PROCESS +FAM ADDRESS +PORT +LAT\(us\) RESULT$/m);
  await attached(j);
  const { pid, results, us } = await threeConnects();
  expect(results).toEqual([0, 111, 115]);
  const mine = () => t.stdout().split('\n').filter(l => l.startsWith(`${pid} `));
  const events = () => jsonRecords(j.stdout()).filter(e => e.pid === pid);
  await waitUntil(() => mine().length >= 3 && events().length >= 3, 'the three connects');
  expect(await t.stop()).toBe(0);
  expect(await j.stop()).toBe(0);
  const rows = mine().map(l => l.trim().split(/ +/));
  expect(rows.map(r => [r[1], r[2], r[3], Number(r[4]), r.slice(6).join(' ')])).toEqual([
    ['python3', '4', net.server.v4, PORT, 'Success'],
    ['python3', '4', net.server.v4, CLOSED, 'Connect refused'],
    ['python3', '6', net.server.v6, PORT, 'In progress'],
  ]);
  // each call's latency is within the client's own timing of it
  rows.forEach((r, i) => expect(Number(r[5])).toBeLessThanOrEqual(us[i]));
  expect(events().map(e => [e.ip, e.addr, e.port, e.errno, e.result])).toEqual([
    [4, net.server.v4, PORT, 0, 'Success'], [4, net.server.v4, CLOSED, 111, 'Connect refused'], [6, net.server.v6, PORT, 115, 'In progress']]);
  expect(events()[0]).toMatchObject({ comm: 'python3', tid: pid });
});

test('-p / -4 / -x filter', async () => {
  const byPid = startTool('soconnect', ['-p', String(process.pid)]); // the test runner connects nowhere
  const only4 = startTool('soconnect', ['-4', '-x']);
  await Promise.all([byPid, only4].map(attached));
  const { pid } = await threeConnects();
  const mine = () => only4.stdout().split('\n').filter(l => l.startsWith(`${pid} `));
  await waitUntil(() => mine().length >= 1, 'the refused connect');
  await Promise.all([byPid.stop(), only4.stop()]);
  expect(mine().map(l => l.trim().split(/ +/)[4])).toEqual([String(CLOSED)]);
  expect(byPid.stdout()).not.toContain(net.server.v4);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('soconnect', [['--bogus'], ['-4', '-6'], ['-p', 'x'], ['-d', '0'], ['extra']]);
});
