// tcprtt on the real kernel: one session of many one-byte round trips between two network namespaces of the
// test (netns.ts), filtered by address and port. Once all its data is acknowledged the socket is quiet, and
// then the histogram holds one sample per segment the socket received in the established state: `ss -ti`'s
// segs_in less the handshake's (1 for the client, 2 for the server); ss's own srtt lies in or next to the
// buckets the samples filled (srtt is smoothed: the last sample differs from ss's by one update).
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, histogramRows, startTool, waitUntil } from './helpers.js';

const PORT = 9014;
const ROUND_TRIPS = 30;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

/** ss -ti of one established socket: segs_in, srtt (µs), and whether all it sent is acknowledged. */
function ssInfo(ns: string, filter: string[]) {
  const text = net.exec(ns, ['ss', '-tinH', 'state', 'established', ...filter]);
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  // ss prints unacked:N while segments are in flight
  return { segsIn: num(/segs_in:(\d+)/), srttUs: num(/ rtt:([\d.]+)\//) * 1000, quiet: text.includes('segs_in:') && !text.includes('unacked:') };
}

async function pingSession(addr: string) {
  const server = await net.peer('server', addr, PORT, 1, 0, 'echo');
  const client = await net.peer('client', addr, PORT, ROUND_TRIPS, 0, 'pinger');
  await client.waitLines(/^pinged/, 1);
  return { server, client, end: async () => {
    client.child.kill('SIGTERM');
    await Promise.all([server.exited, client.exited]);
  } };
}

const slotOf = (us: number) => Math.floor(Math.log2(Math.max(us, 1)));

test('client side: one sample per established segment received (ss segs_in - 1); ss\'s srtt among the buckets', async () => {
  const t = startTool('tcprtt', ['-A', net.server.v4, '-P', String(PORT)]);
  await attached(t);
  const s = await pingSession(net.server.v4);
  const dst = ['dst', `${net.server.v4}:${PORT}`];
  await waitUntil(() => ssInfo(net.client.ns, dst).quiet, 'the client\'s data all acknowledged');
  const ss = ssInfo(net.client.ns, dst);
  expect(await t.stop()).toBe(0);
  await s.end();
  expect(t.stdout()).toMatch(/^All Addresses = \*{7}$/m);
  const rows = histogramRows(t.stdout()).filter(([, n]) => n > 0);
  expect(rows.reduce((a, [, n]) => a + n, 0)).toBe(ss.segsIn - 1);
  const slots = rows.map(([range]) => slotOf(Number(range.split('-')[0])));
  expect(slotOf(ss.srttUs)).toBeGreaterThanOrEqual(Math.min(...slots) - 1);
  expect(slotOf(ss.srttUs)).toBeLessThanOrEqual(Math.max(...slots) + 1);
  expect(t.stderr()).toBe('tcprtt: no kprobes here: srtt from tcp:tcp_probe (fired by tcp_rcv_established)\n');
});

test('server side over IPv6, -b -e --json: its local address\'s section, ss segs_in - 2 samples, the average among them', async () => {
  const t = startTool('tcprtt', ['-a', net.server.v6, '-p', String(PORT), '-b', '-e', '--json']);
  const other = startTool('tcprtt', ['-4', '-a', net.server.v6]); // an IPv6 address with -4: nothing
  await Promise.all([t, other].map(attached));
  const s = await pingSession(net.server.v6);
  const src = ['src', `[${net.server.v6}]:${PORT}`];
  await waitUntil(() => ssInfo(net.server.ns, src).quiet, 'the server\'s data all acknowledged');
  const ss = ssInfo(net.server.ns, src);
  await Promise.all([t.stop(), other.stop()]);
  await s.end();
  const [record] = t.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l));
  expect(record).toMatchObject({ tool: 'tcprtt', kind: 'histogram', val_type: 'usecs', section_by: 'laddr' });
  expect(record.sections).toHaveLength(1);
  const [section] = record.sections;
  expect(section).toMatchObject({ key: net.server.v6, total: ss.segsIn - 2 });
  const filled = section.buckets.filter((b: { count: number }) => b.count > 0);
  expect(section.average).toBeGreaterThanOrEqual(filled[0].start);
  expect(section.average).toBeLessThanOrEqual(filled.at(-1).end);
  expect(histogramRows(other.stdout())).toEqual([]);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcprtt', [['--bogus'], ['-4', '-6'], ['-b', '-B'], ['-a', '10.1.2'], ['-A', 'nohost'], ['-p', '70000'], ['-P', 'x'],
    ['-i', '0'], ['-d', 'x'], ['extra']]);
});
