// ipecn on the real kernel: N UDP datagrams sent with IP_TOS 3 (ECN Congestion Encountered) over the
// test network's veth pair, and N more with ECT(0) (TOS 2) and none (TOS 0): exactly N lines "ECN CE
// from: <client>" on the server's interface (-n); --json; bad input.
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, printed, startTool, waitUntil } from './helpers.js';
import { createTestNetwork, udpBurst, type TestNetwork } from './netns.js';

jest.setTimeout(120_000);

const N = 12;
let net: TestNetwork;

beforeAll(() => {
  net = createTestNetwork();
});
afterAll(() => net.remove());

describe('ipecn', () => {
  test('N datagrams marked CE among unmarked and ECT(0) ones: N lines from the client', async () => {
    const text = startTool('ipecn', ['-n', net.server.dev]);
    const json = startTool('ipecn', ['-n', net.server.dev, '--json']);
    await Promise.all([text, json].map(printed('Hit Ctrl-C')));
    await udpBurst(net, { count: N, size: 100, tos: 0 });
    await udpBurst(net, { count: N, size: 100, tos: 2 });
    await udpBurst(net, { count: N, size: 100, tos: 3 });
    // the CE ones came last: once N lines are there, the others have been seen (or never will be)
    const lines = () => text.stdout().split('\n').filter(l => l.includes('ECN CE from'));
    const events = () => json.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
    await waitUntil(() => lines().length >= N && events().length >= N, 'N marked datagrams to be reported');
    expect(await text.stop('SIGINT')).toBe(0);
    expect(await json.stop('SIGINT')).toBe(0);
    expect(text.stdout().split('\n')[0]).toBe('Tracing inbound IPv4 ECN Congestion Encountered. Hit Ctrl-C to end.');
    expect(lines()).toEqual(Array.from({ length: N }, () => expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ECN CE from: ${net.client.v4.replace(/\./g, '\\.')}$`))));
    const all = events();
    expect(all.map(validateRecord)).toEqual(all.map(() => []));
    expect(all).toEqual(Array.from({ length: N }, () => expect.objectContaining({ tool: 'ipecn', kind: 'event', saddr: net.client.v4, daddr: net.server.v4 })));
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('ipecn', [['-n', ''], ['-n', 'a-name-longer-than-15'], ['extra'], ['--nosuch']]);
  });
});
