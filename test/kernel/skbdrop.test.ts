// skbdrop on the real kernel: an nftables rule in the server namespace drops N UDP datagrams from the
// client (its counter says N): skbdrop --netns-id of that namespace counts exactly N drops with reason
// NETFILTER_DROP, under stacks through nf_hook_slow; in the client's namespace none; --json; bad input.
import fs from 'node:fs';
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, printed, runTool, startTool, waitUntil } from './helpers.js';
import { createTestNetwork, type TestNetwork } from './netns.js';

jest.setTimeout(120_000);

const N = 15;
const PORT = 9301;
let net: TestNetwork;
const netnsId = (ns: string) => String(fs.statSync(`/run/netns/${ns}`).ino);

beforeAll(() => {
  net = createTestNetwork();
});
afterAll(() => net.remove());

/** The text's map entries: the frames and the reason of each key, and its count. */
function entries(out: string): { frames: string[]; reason: string; count: number }[] {
  return [...out.matchAll(/^@\[\n((?: {8}\S[^\n]*\n)*), (\w+)\]: (\d+)$/gm)]
    .map(m => ({ frames: m[1]!.split('\n').filter(Boolean).map(f => f.trim()), reason: m[2]!, count: Number(m[3]) }));
}

describe('skbdrop', () => {
  test('N datagrams dropped by an nftables rule: N NETFILTER_DROP drops in that namespace, through nf_hook_slow', async () => {
    const rule = net.nftRule(net.server.ns, 'input', `udp dport ${PORT} counter drop`);
    try {
      const server = startTool('skbdrop', ['--netns-id', netnsId(net.server.ns)]);
      const serverJson = startTool('skbdrop', ['--netns-id', netnsId(net.server.ns), '--json']);
      const client = startTool('skbdrop', ['--netns-id', netnsId(net.client.ns), '--json']);
      await Promise.all([server, serverJson, client].map(printed('Hit Ctrl-C')));
      net.exec(net.client.ns, ['python3', '-c', `import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${N}):
    c.sendto(b"x" * 100, ("${net.server.v4}", ${PORT}))`]);
      await waitUntil(() => rule.packets() >= N, 'the rule to drop the datagrams');
      expect(rule.packets()).toBe(N);
      for (const t of [server, serverJson, client]) expect(await t.stop('SIGINT')).toBe(0);

      expect(server.stdout().split('\n')[0]).toBe('Tracing unusual skb drop stacks. Hit Ctrl-C to end.');
      const nf = entries(server.stdout()).filter(e => e.reason === 'NETFILTER_DROP');
      expect(nf.reduce((a, e) => a + e.count, 0)).toBe(N);
      for (const e of nf) {
        expect(e.frames).toContain('nf_hook_slow');
        expect(e.frames.length).toBeLessThanOrEqual(8); // the book's kstack(8)
      }

      const [record] = serverJson.stdout().trim().split('\n').map(l => JSON.parse(l));
      expect(validateRecord(record)).toEqual([]);
      expect(record).toMatchObject({ tool: 'skbdrop', kind: 'stacks', value_field: 'count' });
      const nfJson = record.stacks.filter((s: any) => s.reason === 'NETFILTER_DROP');
      expect(nfJson.reduce((a: number, s: any) => a + s.count, 0)).toBe(N);
      expect(nfJson[0]).toMatchObject({ reason_code: 12 }); // this kernel's SKB_DROP_REASON_NETFILTER_DROP, from its BTF
      expect(nfJson[0].kernel_stack).toContain('nf_hook_slow');

      const [clientRecord] = client.stdout().trim().split('\n').map(l => JSON.parse(l));
      expect(clientRecord.stacks.filter((s: any) => s.reason === 'NETFILTER_DROP')).toEqual([]);
    } finally {
      rule.remove();
    }
  });

  test('[duration]: ends by itself', () => {
    const r = runTool('skbdrop', ['1'], { timeoutMs: 60000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Tracing unusual skb drop stacks\. Hit Ctrl-C to end\.\n\n/);
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('skbdrop', [['--netns-id', 'abc'], ['--netns-id', '-1'], ['0'], ['abc'], ['1', '2'], ['--nosuch']]);
  });
});
