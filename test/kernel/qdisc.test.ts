// The qdisc-* tools on the real kernel (one shared implementation, lib/cli/qdisc-latency.ts): a tbf
// at 1 Mbit/s with a one-packet burst on the client end of a quiet veth pair is handed, by one sendto()
// of a 14,000-byte UDP datagram, N = 10 IP fragments at once (9 of 1514 bytes on the wire: 12.1 ms each
// at that rate), so the queue builds whatever the sender's speed: qdisc-tbf counts exactly N waits, the
// longest at least (N - 3) packet times (the queue drains at the rate) and none longer than the whole
// run took; --json; the qdiscs this kernel lacks refuse in one line; bad input.
import fs from 'node:fs';
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { bpftraceHistRows, expectUsageErrors, printed, runTool, startTool, waitUntil, type Running } from './helpers.js';
import { createTestNetwork, quietLink, udpBurst, type TestNetwork } from './netns.js';
import { refusal } from './catalogue-runs.js';

jest.setTimeout(120_000);

const DATAGRAM = 14000;
const N = Math.ceil((DATAGRAM + 8) / 1480); // IP fragments of 1480 bytes of payload: 10
const PACKET_US = (1514 * 8) / 1e6 * 1e6; // a full fragment's µs on the wire at 1 Mbit/s
let net: TestNetwork;

beforeAll(() => {
  net = createTestNetwork();
  quietLink(net); // the fragments only: no ARP, no IPv6 multicast through the tbf
  net.exec(net.client.ns, ['tc', 'qdisc', 'add', 'dev', net.client.dev, 'root', 'tbf', 'rate', '1mbit', 'burst', '1600', 'limit', '100000']);
});
afterAll(() => net.remove());

/** A bpftrace log2 label's bounds in µs: "[64K, 128K)" -> [65536, 131072]. */
function bounds(label: string): [number, number] {
  const value = (s: string) => Number(/\d+/.exec(s)![0]) * ({ K: 1024, M: 1 << 20 }[s.replace(/[\d[\]() ]/g, '')] ?? 1);
  const [lo, hi] = label.slice(1, -1).split(', ');
  return hi === undefined ? [value(lo!), value(lo!) + 1] : [value(lo!), value(hi)];
}

// OneUnseen: now and then one of the N fragments' waits is not counted (9 of 10), and the tool is not why.
// Measured (session 8: 200 bursts of 10 at a time through this tbf, ftrace's qdisc events on beside the
// tool, counters in the tool's program): ftrace records all 2000 enqueues and 2000 dequeues (packets=1,
// same skb addresses, no requeues); the enqueue program runs 2000 times with no failed update; the
// dequeue program sees an skb 1999 times, so the missing wait's skb stays in the start map (or is
// overwritten by a later skb at its address). No recursion miss is counted and the histogram loses
// nothing: the kernel did not run the tp_btf program for that qdisc_dequeue hit (a softirq dequeue on
// irq exit, in whatever task was running). A second program on net:net_dev_start_xmit, where the same
// skb goes to the driver microseconds later, missed that skb too. About 1 dequeue in 2000 on this loaded
// 2-CPU VM: a test of N = 10 sees it in about 1 run in 200, so it allows one unseen wait.
const total = (rows: Map<string, number>) => [...rows.values()].reduce((a, b) => a + b, 0);

/** Waits for the fragments to be counted; on a timeout, says what the tool printed and what the qdisc's own counters say. */
async function counted(t: Running, cond: () => boolean): Promise<void> {
  try {
    await waitUntil(cond, 'the fragments to be dequeued');
  } catch (e) {
    await t.stop('SIGINT');
    const stats = net.exec(net.client.ns, ['tc', '-s', 'qdisc', 'show', 'dev', net.client.dev]);
    throw new Error(`${(e as Error).message}\nstdout:\n${t.stdout()}\nstderr:\n${t.stderr()}\ntc -s:\n${stats}`);
  }
}

async function burst(t: Running): Promise<number> {
  await printed('Hit Ctrl-C')(t);
  const started = Date.now();
  await udpBurst(net, { count: 1, size: DATAGRAM });
  return (Date.now() - started) * 1000;
}

describe('qdisc-*', () => {
  test('qdisc-tbf: N fragments at once through a 1 Mbit/s tbf: N waits, the longest (N - 3) packet times or more', async () => {
    const t = startTool('qdisc-tbf', ['-n', net.client.dev, '1']);
    const burstUs = await burst(t);
    await counted(t, () => total(bpftraceHistRows(t.stdout(), 'us')) >= N - 1);
    expect(await t.stop('SIGINT')).toBe(0);
    const rows = bpftraceHistRows(t.stdout(), 'us');
    expect(total(rows)).toBeGreaterThanOrEqual(N - 1); // see OneUnseen
    expect(total(rows)).toBeLessThanOrEqual(N);
    const used = [...rows].filter(([, n]) => n > 0).map(([label]) => bounds(label));
    expect(Math.max(...used.map(([, hi]) => hi))).toBeGreaterThan((N - 3) * PACKET_US);
    expect(Math.max(...used.map(([lo]) => lo))).toBeLessThanOrEqual(burstUs);
    expect(t.stdout().split('\n')[0]).toBe('Tracing qdisc tbf latency. Hit Ctrl-C to end.');
    expect(t.stderr()).toContain('qdisc-tbf: timed at qdisc:qdisc_enqueue and qdisc:qdisc_dequeue');
  });

  test('qdisc-tbf --json: histogram records of usecs', async () => {
    const t = startTool('qdisc-tbf', ['-n', net.client.dev, '--json', '1']);
    await burst(t);
    const records = () => t.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
    const waits = () => records().reduce((a, r) => a + r.total, 0);
    await counted(t, () => waits() >= N - 1);
    expect(await t.stop('SIGINT')).toBe(0);
    expect(waits()).toBeGreaterThanOrEqual(N - 1); // see OneUnseen
    expect(waits()).toBeLessThanOrEqual(N);
    const all = records();
    expect(all.map(validateRecord)).toEqual(all.map(() => []));
    expect(all[0]).toMatchObject({ tool: 'qdisc-tbf', kind: 'histogram', val_type: 'usecs', scale: 'log2' });
  });

  test('a qdisc this kernel lacks: one line naming it, exit 1', () => {
    const kallsyms = fs.readFileSync('/proc/kallsyms', 'utf8');
    for (const [tool, fn] of [['qdisc-fq', 'fq_enqueue'], ['qdisc-fq_codel', 'fq_codel_enqueue'], ['qdisc-codel', 'codel_qdisc_enqueue'],
      ['qdisc-red', 'red_enqueue'], ['qdisc-cbs', 'cbs_enqueue'], ['qdisc-cbq', 'cbq_enqueue']] as const) {
      if (new RegExp(` ${fn}$`, 'm').test(kallsyms)) continue;
      const r = runTool(tool, ['1', '1']);
      expect({ tool, code: r.code, oneLine: refusal(tool).test(r.stderr), stdout: r.stdout }).toEqual({ tool, code: 1, oneLine: true, stdout: '' });
    }
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('qdisc-tbf', [['-n', ''], ['-n', 'a-name-longer-than-15'], ['abc'], ['1', '0'], ['--nosuch']]);
  });
});
