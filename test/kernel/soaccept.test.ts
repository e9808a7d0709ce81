// soaccept on the real kernel: a server in one namespace of the test network (netns.ts) accepts N
// connects from the other; each accept is shown with the server's PID, Success, and the client's
// address and port (as the client saw its local port), over IPv4 and IPv6. The servers are node (libuv
// passes no sockaddr to accept4(): the peer is read from the accepted socket) and Python (it passes one).
import path from 'node:path';
import { createTestNetwork, sessionsTo, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, root, startTool, waitUntil } from './helpers.js';
import { jsonRecords } from './soconn-work.js';

const script = path.join(root, 'test', 'fixtures', 'soconn-peer.py');
const PORT = 9120;
const N = 3;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

const accepts = (addr: string) => sessionsTo(net, addr, PORT, N);

test('N accepts by the server PID with the client address and port (node and Python servers)', async () => {
  const t = startTool('soaccept', []);
  const j = startTool('soaccept', ['--json', '-6']);
  await t.waitFor(/^PID +PROCESS +FAM ADDRESS +PORT +RESULT$/m);
  await attached(j);
  const v4 = await accepts(net.server.v4);
  const py = await net.run('server', ['python3', script, 'listen', String(PORT + 1), String(N)], /^pid (\d+)/);
  await py.waitLines(/^listening/, 1);
  const client = await net.peer('client', net.server.v6, PORT + 1, N);
  const pyPorts = (await client.waitLines(/^connected (\d+)/, N)).map(m => Number(m[1]));
  await Promise.all([py.exited, client.exited]);
  const rowsOf = (pid: number) => t.stdout().split('\n').filter(l => l.startsWith(`${pid} `) && l.endsWith(' Success')).map(l => l.trim().split(/ +/));
  const events = () => jsonRecords(j.stdout()).filter(e => e.pid === py.pid && e.errno === 0);
  await waitUntil(() => rowsOf(v4.server.pid).length >= N && rowsOf(py.pid).length >= N && events().length >= N, 'the accepts reported');
  expect(await t.stop()).toBe(0);
  expect(await j.stop()).toBe(0);
  expect(rowsOf(v4.server.pid).map(r => [r[1], r[2], r[3], Number(r[4])])).toEqual(v4.ports.map(p => [v4.server.comm, '4', net.client.v4, p]));
  expect(rowsOf(py.pid).map(r => [r[1], r[2], r[3], Number(r[4])])).toEqual(pyPorts.map(p => ['python3', '6', net.client.v6, p]));
  expect(events().map(e => [e.ip, e.raddr, e.rport, e.lport, e.result])).toEqual(pyPorts.map(p => [6, net.client.v6, p, PORT + 1, 'Success']));
  expect(events().every(e => e.fd > 2)).toBe(true);
  expect(j.stdout()).not.toContain(`"raddr":"${net.client.v4}"`);
});

test('-p / -x filter', async () => {
  const byPid = startTool('soaccept', ['-p', String(process.pid)]); // the test runner accepts nothing
  const failed = startTool('soaccept', ['-x']);
  await Promise.all([byPid, failed].map(attached));
  await accepts(net.server.v4);
  const none = await net.run('server', ['python3', script, 'acceptnone', String(PORT + 2)], /^pid (\d+)/);
  expect((await none.waitLines(/^result (\d+)/, 1))[0][1]).toBe('11');
  const mine = () => failed.stdout().split('\n').filter(l => l.startsWith(`${none.pid} `));
  await waitUntil(() => mine().length >= 1, 'the EAGAIN');
  await Promise.all([byPid.stop(), failed.stop()]);
  expect(mine().map(l => l.trim().split(/ +/).slice(1))).toEqual([['python3', '4', '-', '0', 'None', 'to', 'accept']]);
  expect(failed.stdout()).not.toMatch(/ Success$/m);
  expect(byPid.stdout()).not.toContain(net.client.v4);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('soaccept', [['--bogus'], ['-4', '-6'], ['-p', 'x'], ['extra']]);
});
