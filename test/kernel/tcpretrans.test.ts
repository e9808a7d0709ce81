// tcpretrans on the real kernel: a server in one network namespace of the test sends one byte to a client in
// the other while an nftables rule in the client's namespace drops it (netns.ts), so the server retransmits
// until the rule goes. Every retransmit of that session is printed and counted (-c, --json: the same
// number), as many as the server namespace's TcpRetransSegs (nstat) grew by, less at most the tail loss
// probes it sent (TcpExtTCPLossProbes): the kernel counts a probe's resend in TcpRetransSegs, but it does
// not always pass the tracepoint (BCC's -l takes them from a kprobe). IPv4 and IPv6.
import { createTestNetwork, nstat, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, runTool, startTool, waitUntil, type Running } from './helpers.js';

const PORT = 9011;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

/** The server namespace's TcpRetransSegs and TcpExtTCPLossProbes. */
function counters() {
  const c = nstat(net, net.server.ns, ['TcpRetransSegs', 'TcpExtTCPLossProbes']);
  return { segs: c.TcpRetransSegs!, probes: c.TcpExtTCPLossProbes! };
}

/** A session whose server's data is dropped until `tool` printed `retransmits` rows for it; returns its ports and the counters' growth. */
async function lossySession(addr: string, clientAddr: string, tool: Running, retransmits: number) {
  const before = counters();
  // data segments carry PSH; the handshake and pure ACKs pass
  const unrule = net.nftRule(net.client.ns, 'input', `tcp sport ${PORT} tcp flags & psh == psh drop`);
  const server = await net.peer('server', addr, PORT, 1);
  const client = await net.peer('client', addr, PORT, 1);
  const [m] = await client.waitLines(/^connected (\d+)/, 1);
  const rows = () => tool.stdout().split('\n').filter(l => l.includes(` ${addr}:${PORT} `) && l.includes(` ${clientAddr}:${m[1]} `));
  await waitUntil(() => rows().length >= retransmits, 'retransmits reported').finally(unrule.remove);
  await Promise.all([server.exited, client.exited]);
  const after = counters();
  return { clientPort: Number(m[1]), grew: after.segs - before.segs, probes: after.probes - before.probes, rows };
}

test('each retransmit of a session whose data is dropped; -c counts what TcpRetransSegs counted', async () => {
  const t = startTool('tcpretrans', ['-s']);
  const counted = startTool('tcpretrans', ['-c']);
  const json6 = startTool('tcpretrans', ['-6', '--json']);
  await t.waitFor(/^TIME +PID +IP LADDR:LPORT +T> RADDR:RPORT +STATE +SEQ/m);
  await Promise.all([counted, json6].map(attached));
  const v4 = await lossySession(net.server.v4, net.client.v4, t, 2);
  const v6 = await lossySession(net.server.v6, net.client.v6, t, 2);
  // the retransmits after the rule went, until the byte got through, are printed too
  await waitUntil(() => v4.rows().length >= v4.grew - v4.probes && v6.rows().length >= v6.grew - v6.probes, 'every retransmit reported');
  await Promise.all([t.stop(), counted.stop(), json6.stop()]);
  for (const [s, ip] of [[v4, 4], [v6, 6]] as const) {
    const n = s.rows().length;
    expect({ ip, n, atLeast: n >= s.grew - s.probes, atMost: n <= s.grew }).toEqual({ ip, n, atLeast: true, atMost: true });
    // the same byte each time: one sequence number
    expect(s.rows()).toEqual(Array(n).fill(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d +\\d+ +${ip} +\\S+ +R> +\\S+ +ESTABLISHED +(${/\d+/.source})$`))));
    expect(new Set(s.rows().map(l => l.trim().split(/ +/).pop())).size).toBe(1);
  }
  const pair = (sa: string, ca: string, cport: number, n: number) => new RegExp(`^\\[${sa.replace(/\./g, '\\.')}\\]#${PORT} +<-> \\[${ca.replace(/\./g, '\\.')}\\]#${cport} +${n}$`, 'm');
  expect(counted.stdout()).toMatch(/^LADDR:LPORT +RADDR:RPORT +RETRANSMITS$/m);
  expect(counted.stdout()).toMatch(pair(net.server.v4, net.client.v4, v4.clientPort, v4.rows().length));
  expect(counted.stdout()).toMatch(pair(net.server.v6, net.client.v6, v6.clientPort, v6.rows().length));
  const events = json6.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.rport === v6.clientPort);
  expect(events).toHaveLength(v6.rows().length);
  expect(events[0]).toMatchObject({ ip: 6, laddr: net.server.v6, lport: PORT, raddr: net.client.v6, type: 'R', state: 'ESTABLISHED' });
  expect(json6.stdout()).not.toContain(`"laddr":"${net.server.v4}"`);
});

test('-l names what is missing; bad input: one line and exit 2', () => {
  expect(runTool('tcpretrans', ['-l'])).toEqual({ code: 1, stdout: '',
    stderr: 'tcpretrans: -l needs kprobes (tcp_send_loss_probe), which this kernel does not have\n' });
  expectUsageErrors('tcpretrans', [['--bogus'], ['-4', '-6'], ['extra']]);
});
