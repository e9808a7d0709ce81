// nettxlat on the real kernel: N ICMP echo requests from the client over the test network's veth pair
// (a raw socket: this machine has no ping), each consumed by the server's icmp_rcv: exactly N
// latencies under the client interface's name (-d -n), each no longer than the whole run; the replies,
// consumed by the client's stack, under the server's; intervals; --json; bad input.
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { bpftraceHistRows, expectUsageErrors, printed, runTool, startTool, waitUntil } from './helpers.js';
import { createTestNetwork, echoRequests, quietLink, type TestNetwork } from './netns.js';

jest.setTimeout(120_000);

const N = 10;
let net: TestNetwork;

beforeAll(() => {
  net = createTestNetwork();
  quietLink(net); // the test's packets only: no ARP, no IPv6 multicast
});
afterAll(() => net.remove());

const total = (rows: Map<string, number>) => [...rows.values()].reduce((a, b) => a + b, 0);

describe('nettxlat', () => {
  test('N echo requests over the veth: N latencies under the client\'s interface (-d -n)', async () => {
    const t = startTool('nettxlat', ['-d', '-n', net.client.dev, '1']);
    await printed('Hit Ctrl-C')(t);
    const started = Date.now();
    echoRequests(net, N);
    const runUs = (Date.now() - started) * 1000;
    await waitUntil(() => total(bpftraceHistRows(t.stdout(), `us[${net.client.dev}]`)) >= N, 'the requests to be counted');
    expect(await t.stop('SIGINT')).toBe(0);
    const rows = bpftraceHistRows(t.stdout(), `us[${net.client.dev}]`);
    expect(total(rows)).toBe(N);
    // each latency is below the run's own length (the highest bucket's low end is)
    const lows = [...rows.keys()].map(l => /^\[(\d+)([KM]?)/.exec(l)!).map(m => Number(m[1]) * (m[2] === 'K' ? 1024 : m[2] === 'M' ? 1 << 20 : 1));
    expect(Math.max(...lows)).toBeLessThanOrEqual(runUs);
    expect(t.stdout()).not.toMatch(/^@us\[(?!bk)/m); // -n: no other device
  });

  test('--json -d: histogram records sectioned by device', async () => {
    const t = startTool('nettxlat', ['-d', '-n', net.client.dev, '--json', '1']);
    await printed('Hit Ctrl-C')(t);
    echoRequests(net, N);
    const records = () => t.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
    const counted = () => records().flatMap(r => r.sections).filter((s: any) => s.key === net.client.dev).reduce((a: number, s: any) => a + s.total, 0);
    await waitUntil(() => counted() >= N, 'the requests in a record');
    expect(await t.stop('SIGINT')).toBe(0);
    expect(counted()).toBe(N);
    const all = records();
    expect(all.map(validateRecord)).toEqual(all.map(() => []));
    expect(all[0]).toMatchObject({ tool: 'nettxlat', kind: 'histogram', val_type: 'usecs', section_by: 'device' });
  });

  test('1 1: one histogram without -d, then it exits by itself', () => {
    const r = runTool('nettxlat', ['-T', '1', '1'], { timeoutMs: 60000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Tracing net device xmit queue latency\. Hit Ctrl-C to end\.\n\n\d\d:\d\d:\d\d\n/);
    expect(r.stdout).not.toMatch(/^@us\[/m);
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('nettxlat', [['-n', ''], ['-n', 'a-name-longer-than-15'], ['abc'], ['1', '0'], ['--nosuch']]);
  });
});
