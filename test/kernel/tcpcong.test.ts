// tcpcong on the real kernel: bulk transfers between two network namespaces of the test (netns.ts). With
// an nftables rule dropping every 5th data segment on its way into the server, the sender's session goes
// through recovery or loss and back (changes counted); without it the session stays open, and as BCC's
// tcpcong shows only the sessions whose state changed, it is not shown (or, where a loaded machine's veth
// dropped by itself, with all but a trace of its time open). The states' times add up to no more than the
// session's length as the test saw it.
import { createTestNetwork, nstat, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool } from './helpers.js';

const PORT = 9051;
const KIB = 1024;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

async function transfer(port: number) {
  const started = process.hrtime.bigint();
  const sink = await net.peer('server', net.server.v4, port, 1, 0, 'sink');
  const sender = await net.peer('client', net.server.v4, port, KIB, 0, 'sender');
  const [[, lport]] = await sender.waitLines(/^sent (\d+) (\d+)/, 1, 60000);
  await sink.exited;
  return { lport: Number(lport), wallUs: Number((process.hrtime.bigint() - started) / 1000n) };
}

const rowOf = (text: string, lport: number) => text.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l))
  .flatMap(r => r.rows).filter((r: { lport: number }) => r.lport === lport).at(-1);

test('drops during a transfer: recovery or loss, then open again; without drops all open', async () => {
  const t = startTool('tcpcong', ['-u', '-R', `${PORT}-${PORT + 1}`, '--json', '60']);
  const text = startTool('tcpcong', ['-R', String(PORT), '60']);
  const dist = startTool('tcpcong', ['-d', '-R', String(PORT), '60']);
  await Promise.all([t, text, dist].map(attached));
  const rule = net.nftRule(net.server.ns, 'input', `tcp dport ${PORT} tcp flags & (syn | fin) == 0 meta length > 100 numgen inc mod 5 0 counter drop`);
  const lossy = await transfer(PORT);
  expect(rule.packets()).toBeGreaterThan(0);
  rule.remove();
  // the client namespace's own count of resent segments: a loaded machine can drop on the veth by itself
  const retransmitted = () => nstat(net, net.client.ns, ['TcpRetransSegs']).TcpRetransSegs!;
  const resentBefore = retransmitted();
  const clean = await transfer(PORT + 1);
  const resentClean = retransmitted() - resentBefore;
  expect(await t.stop()).toBe(0);
  expect(await text.stop()).toBe(0);
  expect(await dist.stop()).toBe(0);
  const l = rowOf(t.stdout(), lossy.lport);
  expect(l).toMatchObject({ laddr: net.client.v4, raddr: net.server.v4, rport: PORT });
  expect(l.recovery_us + l.loss_us).toBeGreaterThan(0);
  expect(l.changes).toBeGreaterThanOrEqual(2);
  expect(l.open_us).toBeGreaterThan(0);
  const lossySum = l.open_us + l.disorder_us + l.cwr_us + l.recovery_us + l.loss_us;
  expect(lossySum).toBeLessThanOrEqual(lossy.wallUs);
  const c = rowOf(t.stdout(), clean.lport);
  if (c) {
    // a loaded machine's veth has dropped by itself, and a clean session has once gone into recovery for
    // 39 us with nothing resent (its namespace's RetransSegs unchanged), once 21 us out of a 2 ms
    // transfer: no share of its time holds on any machine, only that it is less than the lossy one's
    expect(c).toMatchObject({ rport: PORT + 1 });
    const cleanOther = c.disorder_us + c.cwr_us + c.recovery_us + c.loss_us;
    expect(cleanOther).toBeLessThan(l.recovery_us + l.loss_us);
    if (resentClean === 0) expect(c.loss_us).toBe(0);
    expect(c.open_us).toBeLessThanOrEqual(clean.wallUs);
  }
  // the text table: BCC's columns and address/port, the lossy session's row, -R leaving the other session out
  expect(text.stdout()).toMatch(/^LAddrPort {12}RAddrPort {13}Open_ms Dod_ms Rcov_ms Cwr_ms  Los_ms Chgs $/m);
  expect(text.stdout()).toMatch(new RegExp(`^${net.client.v4}/${lossy.lport} +${net.server.v4}/${PORT} +\\d+ +\\d+ +\\d+ +\\d+ +\\d+ +[1-9]\\d* *$`, 'm'));
  expect(text.stdout()).not.toContain(`${net.client.v4}/${clean.lport} `);
  // -d: the stays of the lossy session by state, open's and recovery's or loss's
  expect(dist.stdout()).toMatch(/^tcp_congest_state = open$/m);
  expect(dist.stdout()).toMatch(/^tcp_congest_state = (recovery|loss)$/m);
  expect(dist.stderr()).toBe('tcpcong: no kprobes here: congestion state changes from tcp:tcp_cong_state_set, sessions from sock:inet_sock_set_state\n');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpcong', [['--bogus'], ['-m'], ['-L', '70000'], ['-R', '1-2-3'], ['-L', 'x'], ['0'], ['1', '0'], ['1', '2', '3']]);
});
