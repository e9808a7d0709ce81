// tcptracer on the real kernel: N sessions between two network namespaces of the test (netns.ts), each of
// a known shape (tcp-peer.mjs: the client connects, the server accepts, the client closes first, then the
// server). Each session is exactly its four events: C by the client, A by the server, X by each.
import fs from 'node:fs';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool, waitUntil } from './helpers.js';

const PORT = 9012;
const N = 2;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

async function sessions(addr: string, n: number) {
  const server = await net.peer('server', addr, PORT, n);
  const client = await net.peer('client', addr, PORT, n);
  const ports = (await client.waitLines(/^connected (\d+)/, n)).map(m => Number(m[1]));
  await Promise.all([server.exited, client.exited]);
  return { server, client, ports };
}

test('each session: C by the client, A by the server, X by the client, X by the server', async () => {
  const t = startTool('tcptracer', []);
  await t.waitFor(/^T +PID +COMM +IP SADDR +DADDR +SPORT +DPORT *$/m);
  const { server, client, ports } = await sessions(net.server.v4, N);
  const mine = () => t.stdout().split('\n').filter(l => l.includes(` ${net.client.v4} `)).map(l => l.trim().split(/ +/));
  await waitUntil(() => mine().length >= 4 * N, 'the sessions reported');
  expect(await t.stop()).toBe(0);
  const [s, c] = [net.server.v4, net.client.v4];
  const expected = ports.flatMap(p => [
    ['C', String(client.pid), client.comm, '4', c, s, String(p), String(PORT)],
    ['A', String(server.pid), server.comm, '4', s, c, String(PORT), String(p)],
    ['X', String(client.pid), client.comm, '4', c, s, String(p), String(PORT)],
    ['X', String(server.pid), server.comm, '4', s, c, String(PORT), String(p)],
  ]);
  expect(mine()).toEqual(expected);
  expect(t.stderr()).toBe('tcptracer: no kprobes here: tracing at sock:inet_sock_set_state and sys_exit_accept/accept4\n');
});

test('-N: only the server namespace\'s accept and close; -6 --json; -v names types and the namespace', async () => {
  const serverNs = fs.statSync(`/run/netns/${net.server.ns}`).ino;
  const clientNs = fs.statSync(`/run/netns/${net.client.ns}`).ino;
  const onlyServer = startTool('tcptracer', ['-N', String(serverNs), '-6', '--json']);
  const verbose = startTool('tcptracer', ['-v', '-t']);
  await Promise.all([onlyServer, verbose].map(attached));
  await sessions(net.server.v4, 1);
  const { server, client, ports } = await sessions(net.server.v6, 1);
  const events = () => onlyServer.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.dport === ports[0]);
  const verboseRows = () => verbose.stdout().split('\n').filter(l => l.includes(`[${net.client.v6}]`));
  await waitUntil(() => events().length >= 2 && verboseRows().length >= 4, 'the IPv6 session reported');
  await Promise.all([onlyServer.stop(), verbose.stop()]);
  const common = { pid: server.pid, comm: server.comm, ip: 6, saddr: net.server.v6, daddr: net.client.v6, sport: PORT, dport: ports[0], netns: serverNs };
  expect(events()).toEqual([expect.objectContaining({ type: 'accept', ...common }), expect.objectContaining({ type: 'close', ...common })]);
  expect(onlyServer.stdout()).not.toContain(`"saddr":"${net.server.v4}"`);
  expect(verbose.stdout()).toMatch(/^TIME\(ns\) +TYPE +PID +COMM +IP SADDR +DADDR +SPORT +DPORT +NETNS/m);
  expect(verboseRows().map(l => l.trim().split(/ +/)).map(r => [r[1], r[2], r.at(-1)])).toEqual([
    ['connect', String(client.pid), String(clientNs)], ['accept', String(server.pid), String(serverNs)],
    ['close', String(client.pid), String(clientNs)], ['close', String(server.pid), String(serverNs)],
  ]);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcptracer', [['--bogus'], ['-4', '-6'], ['-N', 'x'], ['-p', 'x'], ['extra']]);
});
