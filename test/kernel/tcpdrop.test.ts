// tcpdrop on the real kernel: an nftables rule with a counter, on the output hook of the server's network
// namespace (netns.ts), drops the server's data segments of one session until it is removed. tcpdrop shows
// exactly as many drops of that session as the rule counted, each NETFILTER_DROP with its state, flags and
// a kernel stack through nf_hook_slow. IPv4 and IPv6; --netns-id filters.
import fs from 'node:fs';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, missedEvents, startTool, waitUntil, type Running } from './helpers.js';

const PORT = 9013;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

/** A session whose server data is dropped until `seen` reports 2 drops; returns the client's port and the rule's count. */
async function droppedSession(addr: string, seen: () => number) {
  const rule = net.nftRule(net.server.ns, 'output', `tcp sport ${PORT} tcp flags & psh == psh counter drop`);
  const server = await net.peer('server', addr, PORT, 1);
  const client = await net.peer('client', addr, PORT, 1);
  const [m] = await client.waitLines(/^connected (\d+)/, 1);
  let dropped = 0;
  await waitUntil(() => seen() >= 2, 'drops reported').finally(() => {
    rule.remove();
    dropped = rule.packets();
  });
  await Promise.all([server.exited, client.exited]);
  return { clientPort: Number(m[1]), dropped };
}

const rowsOf = (t: Running, from: string, to: string) => t.stdout().split('\n').filter(l => l.includes(` ${from} `) && l.includes(` ${to} `));

test('every drop of the rule, with its reason, state, flags and kernel stack', async () => {
  const t = startTool('tcpdrop', []);
  const json6 = startTool('tcpdrop', ['-6', '--json']);
  const otherNs = startTool('tcpdrop', ['--netns-id', String(fs.statSync(`/run/netns/${net.client.ns}`).ino)]);
  await t.waitFor(/^TIME +PID +IP SADDR:SPORT +> DADDR:DPORT +STATE \(FLAGS\) +REASON \(CODE\)$/m);
  await Promise.all([json6, otherNs].map(attached));
  const from = `${net.server.v4}:${PORT}`;
  const v4 = await droppedSession(net.server.v4, () => t.stdout().split(` ${from} `).length - 1);
  const to4 = `${net.client.v4}:${v4.clientPort}`;
  const events = () => json6.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.sport === PORT);
  const v6 = await droppedSession(net.server.v6, () => events().length);
  await waitUntil(() => rowsOf(t, from, to4).length >= v4.dropped && events().length >= v6.dropped, 'every drop reported', 10_000)
    .catch(() => undefined); // what is missing must be counted as missed at exit (below)
  await Promise.all([t.stop(), json6.stop(), otherNs.stop()]);
  // every drop is shown, or counted at exit among the events the kernel did not run the program for
  // (a drop in a softirq that interrupted a tracing program on that CPU)
  const rows = rowsOf(t, from, to4);
  for (const [shown, tool, dropped] of [[rows.length, t, v4.dropped], [events().length, json6, v6.dropped]] as const) {
    expect(shown).toBeLessThanOrEqual(dropped);
    expect(shown + missedEvents(tool)).toBeGreaterThanOrEqual(dropped);
  }
  expect(rows).toEqual(Array(rows.length).fill(
    expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d +\\d+ +4 +${from.replace(/\./g, '\\.')} +> ${to4.replace(/\./g, '\\.')} +ESTABLISHED \\(PSH\\|ACK\\) NETFILTER_DROP \\(\\d+\\)$`))));
  // each row is followed by its stack, a tab before each frame
  const text = t.stdout();
  const stack = text.slice(text.indexOf(rows[0]) + rows[0].length + 1).split('\n\n')[0].split('\n');
  expect(stack.every(f => /^\t\S+\+0x[0-9a-f]+$/.test(f))).toBe(true);
  expect(stack.some(f => f.startsWith('\tnf_hook_slow+'))).toBe(true);
  expect(events()[0]).toMatchObject({ ip: 6, saddr: net.server.v6, sport: PORT, daddr: net.client.v6, dport: v6.clientPort,
    state: 'ESTABLISHED', tcpflags: 'PSH|ACK', reason: 'NETFILTER_DROP' });
  expect(events()[0].kernel_stack).toContainEqual(expect.stringMatching(/^nf_hook_slow\+/));
  expect(otherNs.stdout()).not.toContain(`${net.server.v4}:${PORT}`);
  expect(t.stderr().split('\n')[0]).toBe('tcpdrop: no kprobes here (tcp_drop): tracing skb:kfree_skb with its drop reason');
  expect(t.stderr()).not.toMatch(/lost/);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpdrop', [['--bogus'], ['-4', '-6'], ['--netns-id', 'x'], ['--pid-netns', '999999999'], ['--pid-netns', '1', '--netns-id', '1'], ['extra']]);
});
