// tcpsubnet on the real kernel: known sends between two network namespaces of the test, on addresses of
// their own (no other test's traffic lands in them), each to a known destination: a sender of exactly
// 7 KiB to the server's IPv4 address, and over IPv6 N one-byte pings (client -> server) each echoed
// (server -> client). The subnet list is matched in order, so the echoes land in the client's /128, the
// pings in the /64 after it; the totals over all intervals are those byte counts exactly.
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool } from './helpers.js';

const PORT = 9021;
const KIB = 7;
const PINGS = 25;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork({ v4: '10.213.0', v6: 'fd00:213' })));
afterAll(() => net.remove());

test('bytes sent land in the first subnet of the list that holds their destination', async () => {
  const subnets = [`${net.server.v4}/32`, `${net.client.v6}/128`, 'fd00:213::/64', '10.213.0.0/24'];
  const text = startTool('tcpsubnet', ['-i', '0.5', subnets.join(',')]);
  const t = startTool('tcpsubnet', ['-i', '0.5', '--json', subnets.join(',')]);
  await Promise.all([text, t].map(attached));
  const sink = await net.peer('server', net.server.v4, PORT, 1, 0, 'sink');
  const sender = await net.peer('client', net.server.v4, PORT, KIB, 0, 'sender');
  await sender.waitLines(/^sent /, 1);
  const echo = await net.peer('server', net.server.v6, PORT + 1, 1, 0, 'echo');
  const pinger = await net.peer('client', net.server.v6, PORT + 1, PINGS, 0, 'pinger');
  await pinger.waitLines(/^pinged/, 1);
  pinger.child.kill('SIGTERM');
  await Promise.all([sink.exited, sender.exited, echo.exited, pinger.exited]);
  expect(await t.stop()).toBe(0);
  expect(await text.stop()).toBe(0);
  const totals = new Map<string, number>();
  const records = t.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l));
  expect(records.length).toBeGreaterThan(0);
  for (const r of records) {
    expect(r).toMatchObject({ tool: 'tcpsubnet', kind: 'counts' });
    for (const row of r.rows) totals.set(row.subnet, (totals.get(row.subnet) ?? 0) + row.bytes);
  }
  expect(Object.fromEntries(totals)).toEqual({ [subnets[0]]: KIB * 1024, [subnets[1]]: PINGS, [subnets[2]]: PINGS });
  // the text form: BCC's "[date]" line per interval and "subnet bytes" rows, the same totals
  const textTotals = new Map<string, number>();
  for (const m of text.stdout().matchAll(/^(\S+\/\d+) +(\d+)$/gm)) textTotals.set(m[1], (textTotals.get(m[1]) ?? 0) + Number(m[2]));
  expect(Object.fromEntries(textTotals)).toEqual(Object.fromEntries(totals));
  expect(text.stdout()).toMatch(/^\[\d\d\/\d\d\/\d\d \d\d:\d\d:\d\d\]$/m);
  expect(text.stderr()).toBe('tcpsubnet: no kprobes here: bytes sent from sock:sock_send_length (TCP), the destination from the socket\n');
});

test('-f K: the sums in KiB (whole KiB, as BCC)', async () => {
  const t = startTool('tcpsubnet', ['-f', 'K', '-i', '60', '--json', `${net.server.v4}/32`]);
  await attached(t);
  const sink = await net.peer('server', net.server.v4, PORT + 2, 1, 0, 'sink');
  const sender = await net.peer('client', net.server.v4, PORT + 2, KIB, 0, 'sender');
  await sender.waitLines(/^sent /, 1);
  await sink.exited;
  expect(await t.stop()).toBe(0);
  const [record] = t.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l));
  expect(record.rows).toEqual([{ subnet: `${net.server.v4}/32`, kbytes: KIB }]);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpsubnet', [['--bogus'], ['10.0.0.0'], ['10.0.0.0/33'], ['fd00::/129'], ['300.1.1.1/8'], ['10.0.0.0/8,x'],
    [','], ['-f', 'x'], ['-i', '0'], ['-i', 'x'], ['10.0.0.0/8', 'extra']]);
});
