// netsize on the real kernel: N UDP datagrams of 1000 bytes over the test network's veth pair land,
// all N, in the [1K, 2K) row of the client interface's send_bytes and nic_send_bytes (1042 bytes with
// the UDP, IP and Ethernet headers) and of the server interface's recv_bytes (1028: the Ethernet header
// is pulled by then); -n names the interface (in any namespace); intervals; --json; bad input.
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { bpftraceHistRows, expectUsageErrors, printed, runTool, startTool, waitUntil, type Running } from './helpers.js';
import { createTestNetwork, udpBurst, type TestNetwork } from './netns.js';

jest.setTimeout(120_000);

const N = 20;
let net: TestNetwork;

beforeAll(() => {
  net = createTestNetwork();
});
afterAll(() => net.remove());

const kilo = (out: string, map: string) => bpftraceHistRows(out, map).get('[1K, 2K)') ?? 0;
const total = (out: string, map: string) => [...bpftraceHistRows(out, map).values()].reduce((a, b) => a + b, 0);

describe('netsize', () => {
  test('N datagrams of 1000 bytes: N in [1K, 2K) of send_bytes and nic_send_bytes (client) and recv_bytes (server)', async () => {
    // interval output: the test waits for the counts, not for a time
    const client = startTool('netsize', ['-n', net.client.dev, '1']);
    const server = startTool('netsize', ['-n', net.server.dev, '1']);
    await Promise.all([client, server].map(printed('Hit Ctrl-C')));
    await udpBurst(net, { count: N, size: 1000 });
    const counted = (r: Running, map: string) => () => kilo(r.stdout(), map) >= N;
    await waitUntil(counted(client, 'send_bytes'), 'send_bytes to count the datagrams');
    await waitUntil(counted(client, 'nic_send_bytes'), 'nic_send_bytes to count the datagrams');
    await waitUntil(counted(server, 'recv_bytes'), 'recv_bytes to count the datagrams');
    expect(await client.stop('SIGINT')).toBe(0);
    expect(await server.stop('SIGINT')).toBe(0);
    expect(kilo(client.stdout(), 'send_bytes')).toBe(N);
    expect(kilo(client.stdout(), 'nic_send_bytes')).toBe(N);
    expect(kilo(server.stdout(), 'recv_bytes')).toBe(N);
    // the client's own receive: nothing that big (the receiver answers nothing); a veth has no NAPI receive
    expect(kilo(client.stdout(), 'recv_bytes')).toBe(0);
    expect(total(server.stdout(), 'nic_recv_bytes')).toBe(0);
    expect(client.stdout().split('\n')[0]).toBe('Tracing net device send/receive. Hit Ctrl-C to end.');
    expect(client.stdout()).toMatch(/^@send_bytes: \n(\[[^\n]+\n)*\[1K, 2K\) {12}\s*20 \|@+ *\|$/m);
  });

  test('-T 1 2: two timestamped intervals, then it exits by itself', () => {
    const r = runTool('netsize', ['-T', '-n', 'lo', '1', '2'], { timeoutMs: 60000 });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^\n\d\d:\d\d:\d\d$/gm)?.length).toBe(2);
  });

  test('--json: histogram records sectioned by histogram (docs/json.md)', async () => {
    const t = startTool('netsize', ['-n', net.client.dev, '--json', '1']);
    await printed('Hit Ctrl-C')(t);
    await udpBurst(net, { count: N, size: 1000 });
    const records = () => t.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
    const sent = () => records().flatMap(r => r.sections).filter((s: any) => s.key === 'send_bytes')
      .flatMap((s: any) => s.buckets).filter((b: any) => b.start === 1024).reduce((a: number, b: any) => a + b.count, 0);
    await waitUntil(() => sent() >= N, 'the datagrams in a record');
    expect(await t.stop('SIGINT')).toBe(0);
    expect(sent()).toBe(N);
    const all = records();
    expect(all.map(validateRecord)).toEqual(all.map(() => []));
    expect(all[0]).toMatchObject({ tool: 'netsize', kind: 'histogram', val_type: 'bytes', scale: 'log2', section_by: 'histogram' });
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('netsize', [['-n', ''], ['-n', 'a-name-longer-than-15'], ['-n', 'a/b'], ['abc'], ['1', '0'], ['--nosuch']]);
  });
});
