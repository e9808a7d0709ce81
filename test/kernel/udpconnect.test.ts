// udpconnect on the real kernel: from the client namespace of the test network (netns.ts), a UDP
// connect() to a known address and port over IPv4 and IPv6 is shown with the caller's PID; a TCP connect
// by the same process is not.
import path from 'node:path';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, root, startTool, waitUntil } from './helpers.js';
import { jsonRecords } from './soconn-work.js';

const script = path.join(root, 'test', 'fixtures', 'soconn-peer.py');
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

async function calls(argv: string[]) {
  const c = await net.run('client', ['python3', script, ...argv], /^pid (\d+)/);
  await c.waitLines(/^result/, argv[0] === 'connect' ? argv.length - 1 : 1);
  await c.exited;
  return c.pid;
}

test('UDP connects shown with address and port, a TCP connect not; the substitute is named', async () => {
  const t = startTool('udpconnect', []);
  const j = startTool('udpconnect', ['--json', '-6']);
  await t.waitFor(/^TIME +PID +COMM +IP RADDR +RPORT$/m);
  await attached(j);
  const tcp = await calls(['connect', `4,${net.server.v4},9131,block`]);
  const udp4 = await calls(['udp', '4', net.server.v4, '9132']);
  const udp6 = await calls(['udp', '6', net.server.v6, '9133']);
  const rows = (pid: number) => t.stdout().split('\n').map(l => l.trim().split(/ +/)).filter(r => r[1] === String(pid));
  const events = () => jsonRecords(j.stdout()).filter(e => e.pid === udp6);
  await waitUntil(() => rows(udp4).length >= 1 && rows(udp6).length >= 1 && events().length >= 1, 'the UDP connects');
  expect(await t.stop()).toBe(0);
  expect(await j.stop()).toBe(0);
  expect(rows(udp4).map(r => r.slice(2))).toEqual([['python3', '4', net.server.v4, '9132']]);
  expect(rows(udp6).map(r => r.slice(2))).toEqual([['python3', '6', net.server.v6, '9133']]);
  expect(rows(tcp)).toEqual([]);
  expect(events()).toEqual([expect.objectContaining({ comm: 'python3', ip: 6, raddr: net.server.v6, rport: 9133, errno: 0 })]);
  expect(j.stdout()).not.toContain(net.server.v4);
  expect(t.stderr()).toBe('udpconnect: no kprobes here: tracing UDP connect() at syscalls:sys_enter/exit_connect (socket type SOCK_DGRAM)\n');
});

test('-p filters', async () => {
  const byPid = startTool('udpconnect', ['-p', String(process.pid)]);
  await attached(byPid);
  await calls(['udp', '4', net.server.v4, '9134']);
  await byPid.stop();
  expect(byPid.stdout()).not.toContain(net.server.v4);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('udpconnect', [['--bogus'], ['-4', '-6'], ['-p', 'x'], ['extra']]);
});
