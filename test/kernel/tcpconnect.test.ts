// tcpconnect on the real kernel: a client in one network namespace of the test connects N times to a
// server in the other (netns.ts); each connect is seen with the client's PID, comm, addresses and ports.
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool, waitUntil } from './helpers.js';

const PORT = 9002;
const N = 3;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

/** N sessions to the server; returns the client and the local ports it printed. */
async function connects(addr: string) {
  const server = await net.peer('server', addr, PORT, N);
  const client = await net.peer('client', addr, PORT, N);
  const ports = (await client.waitLines(/^connected (\d+)/, N)).map(m => Number(m[1]));
  await Promise.all([server.exited, client.exited]);
  return { client, ports };
}

test('each connect: PID, comm, addresses, port; -L gives the local port; -U the UID; the substitute is named', async () => {
  const plain = startTool('tcpconnect', []);
  const withPorts = startTool('tcpconnect', ['-L', '-U', '-t']);
  await plain.waitFor(/^PID +COMM +IP SADDR +DADDR +DPORT/m);
  await withPorts.waitFor(/^TIME\(s\) +UID +PID +COMM +IP SADDR +LPORT +DADDR +DPORT/m);
  const { client, ports } = await connects(net.server.v4);
  const mine = (r: typeof plain) => r.stdout().split('\n').filter(l => l.includes(` ${net.client.v4} `));
  await waitUntil(() => mine(plain).length >= N && mine(withPorts).length >= N, 'the connects reported');
  await Promise.all([plain.stop(), withPorts.stop()]);
  const comm = client.comm.slice(0, 12);
  expect(mine(plain)).toEqual(Array(N).fill(
    expect.stringMatching(new RegExp(`^${client.pid} +${comm} +4 +${net.client.v4.replace(/\./g, '\\.')} +${net.server.v4.replace(/\./g, '\\.')} +${PORT} *$`))));
  expect(mine(withPorts).map(l => Number(l.trim().split(/ +/)[6]))).toEqual(ports);
  expect(mine(withPorts).every(l => l.trim().split(/ +/)[1] === '0')).toBe(true); // UID root
  expect(plain.stderr()).toBe('tcpconnect: no kprobes here: tracing connect() at sock:inet_sock_set_state CLOSE->SYN_SENT\n');
});

test('-c counts N connects as N; -P and -6 filter; --json', async () => {
  const counted = startTool('tcpconnect', ['-c']);
  const otherPort = startTool('tcpconnect', ['-P', '1,2']);
  const only6 = startTool('tcpconnect', ['-6', '--json']);
  await Promise.all([counted, otherPort, only6].map(attached));
  const v4 = await connects(net.server.v4);
  const v6 = await connects(net.server.v6);
  const events = () => only6.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.pid === v6.client.pid);
  await waitUntil(() => events().length >= N, 'the IPv6 connects in JSON');
  await Promise.all([counted.stop(), otherPort.stop(), only6.stop()]);
  expect(counted.stdout()).toMatch(new RegExp(`^LADDR +RADDR +RPORT +CONNECTS *$`, 'm'));
  expect(counted.stdout()).toMatch(new RegExp(`^10\\.201\\.0\\.2 +10\\.201\\.0\\.1 +${PORT} +${N} *$`, 'm'));
  expect(counted.stdout()).toMatch(new RegExp(`^fd00:201::2 +fd00:201::1 +${PORT} +${N} *$`, 'm'));
  expect(otherPort.stdout()).not.toContain(net.client.v4);
  expect(events()[0]).toMatchObject({ comm: v6.client.comm, ip: 6, saddr: net.client.v6, daddr: net.server.v6, dport: PORT });
  expect(only6.stdout()).not.toContain(`"saddr":"${net.client.v4}"`);
  expect(v4.ports).toHaveLength(N);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpconnect', [['--bogus'], ['-4', '-6'], ['-P', '80,abc'], ['-p', 'x'], ['-u', 'nosuchuser'], ['extra']]);
});
