// tcptop on the real kernel: a client in one network namespace of the test sends exactly 10 MB to a server
// in the other that reads it all (netns.ts), and 1 MB over IPv6. Each end's row shows its bytes: the client
// 10240 KB sent, the server 10240 KB received (in --json, the bytes to the byte).
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool } from './helpers.js';

const PORT = 9015;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

async function send(addr: string, kbytes: number) {
  const server = await net.peer('server', addr, PORT, 1, 0, 'sink');
  const client = await net.peer('client', addr, PORT, kbytes, 0, 'sender');
  const [m] = await client.waitLines(/^sent (\d+) (\d+)/, 1);
  await Promise.all([server.exited, client.exited]);
  expect(Number(m[2])).toBe(kbytes * 1024);
  return { server, client, clientPort: Number(m[1]) };
}

const esc = (s: string) => s.replace(/[.]/g, '\\.');

test('10 MB sent: 10240 KB on both ends\' rows; -6 --json counts the IPv6 session to the byte', async () => {
  const t = startTool('tcptop', ['-C', '99']);
  const json6 = startTool('tcptop', ['-6', '--json', '99']);
  const byPid = startTool('tcptop', ['-C', '-p', String(process.pid), '99']); // the test runner sends nothing
  await Promise.all([t, json6, byPid].map(attached));
  const v4 = await send(net.server.v4, 10240);
  const v6 = await send(net.server.v6, 1024);
  await Promise.all([t.stop(), json6.stop(), byPid.stop()]);
  const text = t.stdout();
  expect(text).toMatch(/^\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+\/\d+ \d+$/m);
  expect(text).toMatch(/^PID +COMM +LADDR +RADDR +RX_KB +TX_KB$/m);
  const [c4, s4] = [`${net.client.v4}:${v4.clientPort}`, `${net.server.v4}:${PORT}`].map(esc);
  expect(text).toMatch(new RegExp(`^${v4.client.pid} +\\S+ +${c4} +${s4} +0 +10240$`, 'm'));
  expect(text).toMatch(new RegExp(`^${v4.server.pid} +\\S+ +${s4} +${c4} +10240 +0$`, 'm'));
  expect(text).toMatch(/^PID +COMM +LADDR6 +RADDR6 +RX_KB +TX_KB$/m);
  expect(text).toMatch(new RegExp(`^${v6.client.pid} +\\S+ +${net.client.v6}:${v6.clientPort} +${net.server.v6}:${PORT} +0 +1024$`, 'm'));
  const [record] = json6.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l));
  expect(record).toMatchObject({ tool: 'tcptop', kind: 'top', sort_by: 'total_bytes' });
  const mine = record.rows.filter((r: { lport: number; rport: number }) => r.lport === v6.clientPort || r.rport === v6.clientPort);
  expect(mine).toEqual(expect.arrayContaining([
    expect.objectContaining({ pid: v6.client.pid, ip: 6, laddr: net.client.v6, lport: v6.clientPort, raddr: net.server.v6, rport: PORT, tx_bytes: 1048576, rx_bytes: 0 }),
    expect.objectContaining({ pid: v6.server.pid, ip: 6, laddr: net.server.v6, lport: PORT, raddr: net.client.v6, rport: v6.clientPort, tx_bytes: 0, rx_bytes: 1048576 }),
  ]));
  expect(mine).toHaveLength(2);
  expect(json6.stdout()).not.toContain(`"laddr":"${net.client.v4}"`);
  expect(byPid.stdout()).not.toContain(net.client.v4);
  expect(t.stderr()).toBe('tcptop: no kprobes here: counting at sock:sock_send_length and sock:sock_recv_length\n');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcptop', [['--bogus'], ['-4', '-6'], ['0'], ['1', '0'], ['-p', 'x'], ['1', '2', '3']]);
});
