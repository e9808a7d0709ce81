// superping on the real kernel: N ICMP echo requests and N ICMPv6 ones from the client over the test
// network's veth pair (a raw socket of a known identifier: this machine has no ping): one line per
// reply, for each sequence number 1..N, each round trip no longer than the sender's own figure for it
// (the kernel's part of it is inside); --json; bad input.
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, printed, startTool, waitUntil } from './helpers.js';
import { createTestNetwork, echoRequests, type TestNetwork } from './netns.js';

jest.setTimeout(120_000);

const N = 8;
let net: TestNetwork;

beforeAll(() => {
  net = createTestNetwork();
});
afterAll(() => net.remove());

describe('superping', () => {
  test('N echo requests over IPv4 and IPv6: N lines each, each within the sender\'s round trip', async () => {
    const text = startTool('superping');
    const json = startTool('superping', ['--json']);
    await Promise.all([text, json].map(printed('Hit Ctrl-C')));
    const rtt4 = echoRequests(net, N, { ident: 0x5a01 });
    const rtt6 = echoRequests(net, N, { ident: 0x5a02, ipv6: true });
    const rows = (ip: 4 | 6, id: number) => [...text.stdout().matchAll(new RegExp(`^IPv${ip} ping, ID ${id} seq (\\d+): (\\d+) us$`, 'gm'))]
      .map(m => ({ seq: Number(m[1]), us: Number(m[2]) }));
    const events = () => json.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l)).filter(e => e.id === 0x5a01 || e.id === 0x5a02);
    await waitUntil(() => rows(4, 0x5a01).length >= N && rows(6, 0x5a02).length >= N && events().length >= 2 * N, 'every reply to be reported');
    expect(await text.stop('SIGINT')).toBe(0);
    expect(await json.stop('SIGINT')).toBe(0);
    expect(text.stdout().split('\n')[0]).toBe('Tracing ICMP ping latency. Hit Ctrl-C to end.');
    for (const [ip, id, rtt] of [[4, 0x5a01, rtt4], [6, 0x5a02, rtt6]] as const) {
      const got = rows(ip, id);
      expect(got.map(r => r.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      for (const r of got) expect({ ip, seq: r.seq, us: r.us, withinSender: r.us <= rtt[r.seq - 1]! }).toEqual({ ip, seq: r.seq, us: r.us, withinSender: true });
    }
    const all = events();
    expect(all.map(validateRecord)).toEqual(all.map(() => []));
    expect(all.filter(e => e.ip === 4).map(e => e.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(all.filter(e => e.ip === 6).map(e => e.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(all[0]).toMatchObject({ tool: 'superping', kind: 'event' });
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('superping', [['extra'], ['--nosuch']]);
  });
});
