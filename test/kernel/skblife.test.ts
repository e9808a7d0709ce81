// skblife on the real kernel: a sender in the client namespace (-p: the sk_buffs it allocates) sends N
// UDP datagrams to a port an nftables rule in the server namespace drops, over a quiet veth pair (no
// ARP, no IPv6 multicast): each datagram is one sk_buff, allocated by the sender and freed to the slab
// by the drop, so the histogram counts exactly N lives (less any the kernel says it skipped: a program
// already running on that CPU), none longer than the run; --json; bad input.
import { spawn } from 'node:child_process';
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { bpftraceHistRows, expectUsageErrors, missedEvents, printed, startTool, waitUntil } from './helpers.js';
import { createTestNetwork, quietLink, type TestNetwork } from './netns.js';

jest.setTimeout(120_000);

const N = 20;
const PORT = 9302;
let net: TestNetwork;

beforeAll(() => {
  net = createTestNetwork();
  quietLink(net);
});
afterAll(() => net.remove());

/** A sender that sends N datagrams once told to (a line on its stdin), so a tool can be started on its PID first. */
function heldSender() {
  const child = spawn('ip', ['netns', 'exec', net.client.ns, 'python3', '-c', `import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect(("${net.server.v4}", ${PORT}))
sys.stdin.readline()
for i in range(${N}):
    c.send(b"x" * 100)`], { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise<void>(resolve => child.on('exit', () => resolve()));
  return { pid: child.pid!, go: () => child.stdin!.write('go\n'), done };
}

describe('skblife', () => {
  test('N dropped datagrams of one sender (-p): N sk_buff lives', async () => {
    const rule = net.nftRule(net.server.ns, 'input', `udp dport ${PORT} counter drop`);
    try {
      const sender = heldSender();
      const text = startTool('skblife', ['-p', String(sender.pid), '1']);
      const json = startTool('skblife', ['-p', String(sender.pid), '--json', '1']);
      await Promise.all([text, json].map(printed('Hit Ctrl-C')));
      const started = Date.now();
      sender.go();
      await sender.done;
      await waitUntil(() => rule.packets() >= N, 'the rule to drop the datagrams');
      const runNs = (Date.now() - started) * 1e6;
      const lives = () => [...bpftraceHistRows(text.stdout(), 'skb_residency_nsecs').values()].reduce((a, b) => a + b, 0);
      const records = () => json.stdout().trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
      const jsonLives = () => records().reduce((a, r) => a + r.total, 0);
      // each count is N but for the runs the kernel skipped (said at exit): wait for the next interval's print
      const before = text.stdout().length;
      await waitUntil(() => text.stdout().length > before && lives() >= 1, 'an interval with the lives');
      expect(await text.stop('SIGINT')).toBe(0);
      expect(await json.stop('SIGINT')).toBe(0);
      expect(rule.packets()).toBe(N);
      // exactly N where the kernel skipped no run; else no more than N, and no fewer than it skipped allow
      const expectLives = (n: number, missed: number) => (missed === 0 ? expect(n).toBe(N) : expect([n >= N - missed, n <= N]).toEqual([true, true]));
      expectLives(lives(), missedEvents(text));
      expectLives(jsonLives(), missedEvents(json));
      const labels = [...bpftraceHistRows(text.stdout(), 'skb_residency_nsecs').keys()];
      const low = (l: string) => Number(/\d+/.exec(l)![0]) * ({ K: 1e3, M: 1e6, G: 1e9 }[/\d+([KMG])?/.exec(l)![1] ?? ''] ?? 1);
      expect(Math.max(...labels.map(low))).toBeLessThanOrEqual(runNs);
      const all = records();
      expect(all.map(validateRecord)).toEqual(all.map(() => []));
      expect(all[0]).toMatchObject({ tool: 'skblife', kind: 'histogram', val_type: 'nsecs' });
    } finally {
      rule.remove();
    }
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('skblife', [['-p', '999999999'], ['-p', 'abc'], ['abc'], ['1', '0'], ['--nosuch']]);
  });
});
