// tcpwin on the real kernel: sessions between two network namespaces of the test (netns.ts). A bulk
// transfer of 512 KiB: the sender's socket gets a row per ACK it receives, the receiver's per data segment,
// each with that session's ports and addresses and a congestion window within sane bounds; a held session of
// one-byte round trips: once quiet, its last row's srtt agrees with `ss -ti`'s (within one log2 step:
// tcp_probe fires before the segment's own RTT sample updates srtt).
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool, waitUntil } from './helpers.js';

const PORT = 9031;
const KIB = 512;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

const jsonRows = (text: string) => text.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l));

test('a bulk transfer: the CSV rows of each end carry that session\'s ports, cwnd within bounds', async () => {
  const sending = startTool('tcpwin', ['-D', String(PORT)]);
  const receiving = startTool('tcpwin', ['-L', String(PORT), '--json']);
  await Promise.all([sending, receiving].map(attached));
  const sink = await net.peer('server', net.server.v4, PORT, 1, 0, 'sink');
  const sender = await net.peer('client', net.server.v4, PORT, KIB, 0, 'sender');
  const [[, lport, bytes]] = await sender.waitLines(/^sent (\d+) (\d+)/, 1);
  expect(Number(bytes)).toBe(KIB * 1024);
  await sink.exited;
  expect(await sending.stop()).toBe(0);
  expect(await receiving.stop()).toBe(0);
  const [header, ...lines] = sending.stdout().trim().split('\n');
  expect(header).toBe('event,sock,time_us,snd_cwnd,snd_ssthresh,sk_sndbuf,sk_wmem_queued,snd_wnd,rcv_wnd,srtt_us,laddr,lport,raddr,rport');
  expect(lines.length).toBeGreaterThan(0);
  const socks = new Set<string>();
  for (const line of lines) {
    const [event, sock, timeUs, cwnd, , sndbuf, , sndWnd, , , laddr, lp, raddr, rp] = line.split(',');
    expect([event, laddr, lp, raddr, rp]).toEqual(['rcv', net.client.v4, lport, net.server.v4, String(PORT)]);
    expect(Number(cwnd)).toBeGreaterThanOrEqual(1);
    expect(Number(cwnd)).toBeLessThan(100000);
    expect(Number(sndbuf)).toBeGreaterThan(0);
    expect(Number(sndWnd)).toBeGreaterThanOrEqual(0); // 0 while the sink's window is full (a slow reader)
    expect(Number(timeUs)).toBeGreaterThan(0);
    socks.add(sock);
  }
  expect(lines.some(l => Number(l.split(',')[7]) > 0)).toBe(true);
  expect([...socks]).toHaveLength(1); // one socket, the sender's
  const received = jsonRows(receiving.stdout());
  expect(received.length).toBeGreaterThan(0);
  for (const r of received) {
    expect(r).toMatchObject({ tool: 'tcpwin', kind: 'event', event: 'rcv', ip: 4, laddr: net.server.v4, lport: PORT, raddr: net.client.v4, rport: Number(lport) });
  }
  expect(sending.stderr()).toBe('tcpwin: no kprobes here: tracing tcp:tcp_probe (fired by tcp_rcv_established)\n');
});

const slotOf = (us: number) => Math.floor(Math.log2(Math.max(us, 1)));

test('IPv6 round trips, -6: the last row\'s srtt agrees with ss -ti once the session is quiet; -4 sees none of it', async () => {
  const t = startTool('tcpwin', ['-6', '-D', String(PORT + 1), '--json']);
  const v4only = startTool('tcpwin', ['-4', '-D', String(PORT + 1)]);
  await Promise.all([t, v4only].map(attached));
  const echo = await net.peer('server', net.server.v6, PORT + 1, 1, 0, 'echo');
  const pinger = await net.peer('client', net.server.v6, PORT + 1, 30, 0, 'pinger');
  await pinger.waitLines(/^pinged/, 1);
  const ssText = () => net.exec(net.client.ns, ['ss', '-tinH', 'state', 'established', 'dst', `[${net.server.v6}]:${PORT + 1}`]);
  await waitUntil(() => ssText().includes('segs_in:') && !ssText().includes('unacked:'), 'the client\'s data all acknowledged');
  const ssSrttUs = Number(/ rtt:([\d.]+)\//.exec(ssText())![1]) * 1000;
  await Promise.all([t.stop(), v4only.stop()]);
  pinger.child.kill('SIGTERM');
  await Promise.all([echo.exited, pinger.exited]);
  const rows = jsonRows(t.stdout());
  expect(rows.length).toBeGreaterThanOrEqual(30); // an echo per ping, at least
  for (const r of rows) expect(r).toMatchObject({ ip: 6, laddr: net.client.v6, raddr: net.server.v6, rport: PORT + 1 });
  const last = rows.at(-1);
  expect(Math.abs(slotOf(last.srtt_us) - slotOf(ssSrttUs))).toBeLessThanOrEqual(1);
  expect(v4only.stdout().trim().split('\n')).toHaveLength(1); // the header only
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpwin', [['--bogus'], ['-4', '-6'], ['-L', '70000'], ['-D', 'x'], ['-L', '0'], ['extra']]);
});
