// tcpconnlat on the real kernel: a client in one network namespace of the test connects to a server in the
// other (netns.ts). Each connect's latency is bounded by what the client measured around connect(); a
// connect whose first SYN a drop rule eats takes the kernel's initial SYN timeout (1 s) more, and only it
// passes a 500 ms minimum.
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool, waitUntil } from './helpers.js';

const PORT = 9010;
const N = 3;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

/** `sessions` connects to the server; returns the client and, per connect, its local port and milliseconds. */
async function connects(addr: string, sessions: number) {
  const server = await net.peer('server', addr, PORT, sessions);
  const client = await net.peer('client', addr, PORT, sessions);
  const done = (await client.waitLines(/^connected (\d+) ([\d.]+)/, sessions)).map(m => ({ lport: Number(m[1]), ms: Number(m[2]) }));
  await Promise.all([server.exited, client.exited]);
  return { client, done };
}

const esc = (s: string) => s.replace(/[.]/g, '\\.');

test('each connect: PID, comm, addresses, local port, and a latency within what the client measured', async () => {
  const t = startTool('tcpconnlat', ['-L']);
  await t.waitFor(/^PID +COMM +IP SADDR +LPORT +DADDR +DPORT LAT\(ms\)$/m);
  const { client, done } = await connects(net.server.v4, N);
  const mine = () => t.stdout().split('\n').filter(l => l.includes(` ${net.client.v4} `));
  await waitUntil(() => mine().length >= N, 'the connects reported');
  expect(await t.stop()).toBe(0);
  const row = new RegExp(`^${client.pid} +${client.comm.slice(0, 12)} +4 +${esc(net.client.v4)} +(\\d+) +${esc(net.server.v4)} +${PORT} +(\\d+\\.\\d\\d)$`);
  const rows = mine().map(l => row.exec(l));
  expect(rows.every(Boolean)).toBe(true);
  expect(rows.map(m => Number(m![1]))).toEqual(done.map(d => d.lport));
  rows.forEach((m, i) => {
    const ms = Number(m![2]);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThanOrEqual(done[i].ms + 0.005); // the tool rounds to 1/100 ms
  });
  expect(t.stderr()).toBe('tcpconnlat: no kprobes here: timing connects at sock:inet_sock_set_state CLOSE->SYN_SENT->ESTABLISHED\n');
});

test('a first SYN dropped adds the 1 s SYN timeout: only that connect passes a 500 ms minimum; -6 and --json', async () => {
  const slow = startTool('tcpconnlat', ['-t', '500']);
  const only6 = startTool('tcpconnlat', ['-6', '--json']);
  await Promise.all([slow, only6].map(attached));
  const fast = await connects(net.server.v4, N);
  // numgen alternates 0, 1: the first SYN of the one connect is dropped, its retransmission passes
  const unrule = net.nftRule(net.server.ns, 'input', `tcp dport ${PORT} tcp flags syn numgen inc mod 2 0 drop`);
  const delayed = await connects(net.server.v6, 1).finally(unrule.remove);
  const events = () => only6.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.pid === delayed.client.pid);
  await waitUntil(() => events().length >= 1 && slow.stdout().includes(net.client.v6), 'the delayed connect reported');
  await Promise.all([slow.stop(), only6.stop()]);
  expect(events()).toHaveLength(1);
  const [e] = events();
  expect(e).toMatchObject({ comm: delayed.client.comm, ip: 6, saddr: net.client.v6, daddr: net.server.v6, dport: PORT });
  expect(e.latency_ms).toBeGreaterThanOrEqual(1000);
  expect(e.latency_ms).toBeLessThanOrEqual(delayed.done[0].ms);
  const rows = slow.stdout().split('\n').filter(l => l.includes(` ${PORT} `));
  expect(rows).toEqual([expect.stringMatching(new RegExp(`^0\\.000 +${delayed.client.pid} +\\S+ +6 +${net.client.v6} +${net.server.v6} +${PORT} +1\\d{3}\\.\\d\\d$`))]);
  expect(only6.stdout()).not.toContain(`"saddr":"${net.client.v4}"`);
  expect(fast.done).toHaveLength(N);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpconnlat', [['--bogus'], ['-4', '-6'], ['x'], ['-1'], ['-p', 'x'], ['1', '2']]);
});
