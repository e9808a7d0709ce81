// tcpaccept on the real kernel: a server in one network namespace of the test accepts N connects from the
// other (netns.ts); each accept is seen with the server's PID and comm and the client's address and port.
import { createTestNetwork, sessionsTo, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool, waitUntil } from './helpers.js';

const PORT = 9003;
const N = 3;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

const accepts = (addr: string) => sessionsTo(net, addr, PORT, N);

test('N accepts by the server PID, with the client address and port; the substitute is named', async () => {
  const t = startTool('tcpaccept', []);
  await t.waitFor(/^PID +COMM +IP RADDR +RPORT +LADDR +LPORT$/m);
  const { server, ports } = await accepts(net.server.v4);
  const mine = () => t.stdout().split('\n').filter(l => l.includes(` ${net.server.v4} `));
  await waitUntil(() => mine().length >= N, 'the accepts reported');
  expect(await t.stop()).toBe(0);
  const rows = mine().map(l => l.trim().split(/ +/));
  expect(rows.map(r => [Number(r[0]), r[1], r[2], r[3], r[5], Number(r[6])]))
    .toEqual(Array(N).fill([server.pid, server.comm.slice(0, 12), '4', net.client.v4, net.server.v4, PORT]));
  expect(rows.map(r => Number(r[4]))).toEqual(ports);
  expect(t.stderr()).toBe('tcpaccept: no kprobes here: tracing accept() at sock:inet_sock_set_state SYN_RECV->ESTABLISHED and sys_exit_accept/accept4\n');
});

test('-p / -P / -6 filter; --json', async () => {
  const byPid = startTool('tcpaccept', ['-p', String(process.pid)]); // the test runner accepts nothing
  const otherPort = startTool('tcpaccept', ['-P', '1,2']);
  const only6 = startTool('tcpaccept', ['-6', '--json']);
  await Promise.all([byPid, otherPort, only6].map(attached));
  await accepts(net.server.v4);
  const v6 = await accepts(net.server.v6);
  const events = () => only6.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.pid === v6.server.pid);
  await waitUntil(() => events().length >= N, 'the IPv6 accepts in JSON');
  await Promise.all([byPid.stop(), otherPort.stop(), only6.stop()]);
  expect(events().map(e => e.rport)).toEqual(v6.ports);
  expect(events()[0]).toMatchObject({ comm: v6.server.comm, ip: 6, raddr: net.client.v6, laddr: net.server.v6, lport: PORT });
  expect(only6.stdout()).not.toContain(`"laddr":"${net.server.v4}"`);
  for (const r of [byPid, otherPort]) expect(r.stdout()).not.toContain(net.server.v4);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpaccept', [['--bogus'], ['-4', '-6'], ['-P', '80,abc'], ['-p', 'x'], ['extra']]);
});
