// netqtop on the real kernel: N UDP datagrams of 1000 bytes over the test network's veth pair are
// N packets in the [512, 2K) range of the client interface's TX table and of the server interface's RX
// table (each tool runs in its own namespace: -n names an interface there); --json; bad input.
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, printed, waitUntil, type Running } from './helpers.js';
import { createTestNetwork, startToolIn, udpBurst, type TestNetwork } from './netns.js';

jest.setTimeout(120_000);

const N = 20;
let net: TestNetwork;

beforeAll(() => {
  net = createTestNetwork();
});
afterAll(() => net.remove());

/** The sum over every printed interval of one column of a direction's Total line ("TX" or "RX"). */
function totalColumn(out: string, direction: 'TX' | 'RX', column: string): number {
  let section = '';
  let index = -1;
  let sum = 0;
  for (const line of out.split('\n')) {
    if (line === 'TX' || line === 'RX') section = line;
    else if (line.startsWith(' QueueID')) index = line.trim().split(/ {2,}|(?<=\)) /).indexOf(column);
    else if (line.startsWith(' Total') && section === direction) sum += Number(line.trim().split(/\s+/)[index]);
  }
  return sum;
}

const inRange = (out: string, d: 'TX' | 'RX') => totalColumn(out, d, '[512, 2K)');

describe('netqtop', () => {
  test('N datagrams of 1000 bytes: N in [512, 2K) of the client\'s TX and of the server\'s RX', async () => {
    const tx = startToolIn(net.client.ns, 'netqtop', ['-n', net.client.dev, '-i', '0.5']);
    const rx = startToolIn(net.server.ns, 'netqtop', ['-n', net.server.dev, '-i', '0.5', '-t']);
    await Promise.all([tx, rx].map(printed('Hit Ctrl-C')));
    await udpBurst(net, { count: N, size: 1000 });
    const counted = (r: Running, d: 'TX' | 'RX') => () => inRange(r.stdout(), d) >= N;
    await waitUntil(counted(tx, 'TX'), 'the client\'s TX to count the datagrams');
    await waitUntil(counted(rx, 'RX'), 'the server\'s RX to count the datagrams');
    expect(await tx.stop('SIGINT')).toBe(0);
    expect(await rx.stop('SIGINT')).toBe(0);
    expect(inRange(tx.stdout(), 'TX')).toBe(N);
    expect(inRange(rx.stdout(), 'RX')).toBe(N);
    // nothing of that size the other way (the receiver answers nothing)
    expect(inRange(tx.stdout(), 'RX')).toBe(0);
    expect(inRange(rx.stdout(), 'TX')).toBe(0);
    const lines = tx.stdout().split('\n');
    expect(lines[1]).toBe('TX');
    expect(lines[2]).toBe(' QueueID    avg_size   [0, 64)    [64, 512)  [512, 2K)  [2K, 16K)  [16K, 64K) ');
    expect(lines[0]).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
    expect(rx.stdout()).toContain(' QueueID    avg_size   [0, 64)    [64, 512)  [512, 2K)  [2K, 16K)  [16K, 64K) BPS        PPS        ');
    expect(rx.stdout()).toContain('-'.repeat(95));
  });

  test('--json: counts records, one row per direction and queue (docs/json.md)', async () => {
    const t = startToolIn(net.client.ns, 'netqtop', ['-n', net.client.dev, '-i', '0.5', '--json']);
    await printed('Hit Ctrl-C')(t);
    await udpBurst(net, { count: N, size: 1000 });
    const records = () => t.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
    const sent = () => records().flatMap(r => r.rows).filter((r: any) => r.direction === 'tx').reduce((a: number, r: any) => a + r.size_512_2k, 0);
    await waitUntil(() => sent() >= N, 'the datagrams in a record');
    expect(await t.stop('SIGINT')).toBe(0);
    expect(sent()).toBe(N);
    const all = records();
    expect(all.map(validateRecord)).toEqual(all.map(() => []));
    expect(all[0]).toMatchObject({ tool: 'netqtop', kind: 'counts', interface: net.client.dev });
    expect(all[0].rows.map((r: any) => `${r.direction} ${r.queue}`)).toContain('tx 0');
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('netqtop', [[], ['-n', 'nosuchnic0'], ['-n', 'a-name-longer-than-15'], ['-n', 'lo', '-i', '0'], ['-n', 'lo', '-i', 'abc'], ['-n', 'lo', 'extra']]);
  });
});
