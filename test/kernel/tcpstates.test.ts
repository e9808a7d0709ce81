// tcpstates on the real kernel: one session between two network namespaces of the test (netns.ts), whose
// every state change is known in advance on both ends; and the same session seen by libbpf-tools.
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startReference, startTool, type Running } from './helpers.js';

const PORT = 9001;
const HOLD_MS = 300; // the server sends its byte 300 ms after accept: the client is ESTABLISHED that long
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

interface Row { sk: string; pid: number; comm: string; laddr: string; lport: number; raddr: string; rport: number; change: string; ms: number }

/** Rows of the default (or -w) output that involve the test network's addresses. */
function rows(r: Running, addrs: string[]): Row[] {
  return r.stdout().split('\n').map(l => l.trim().split(/ +/)).filter(f => f.length >= 10 && addrs.includes(f[f.length - 8]))
    .map(f => {
      const [sk, pid, comm] = f;
      const [laddr, lport, raddr, rport, old, , now, ms] = f.slice(-8);
      return { sk, pid: Number(pid), comm, laddr, lport: Number(lport), raddr, rport: Number(rport), change: `${old}->${now}`, ms: Number(ms) };
    });
}

/** One session: server then client in their namespaces; resolves when both have exited. */
async function session(family: 4 | 6 = 4) {
  const addr = family === 4 ? net.server.v4 : net.server.v6;
  const server = await net.peer('server', addr, PORT, 1, HOLD_MS);
  const client = await net.peer('client', addr, PORT, 1);
  const [, localPort] = (await client.waitLines(/^connected (\d+)/, 1))[0];
  await Promise.all([server.exited, client.exited]);
  return { server, client, clientPort: Number(localPort) };
}

const CLIENT = ['CLOSE->SYN_SENT', 'SYN_SENT->ESTABLISHED', 'ESTABLISHED->FIN_WAIT1', 'FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE'];
const ACCEPTED = ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE'];
const LISTENER = ['CLOSE->LISTEN', 'LISTEN->CLOSE'];

function bySocket(all: Row[]): Map<string, Row[]> {
  const m = new Map<string, Row[]>();
  for (const r of all) m.set(r.sk, [...(m.get(r.sk) ?? []), r]);
  return m;
}

async function waitRows(r: Running, addrs: string[], n: number): Promise<Row[]> {
  const deadline = Date.now() + 20000;
  while (rows(r, addrs).length < n && Date.now() < deadline) await new Promise(res => setTimeout(res, 100));
  return rows(r, addrs);
}

test('one session: the exact state changes of the client, the accepted socket and the listener, with ms', async () => {
  const t = startTool('tcpstates', []);
  await t.waitFor(/^SKADDR +C-PID +C-COMM +LADDR +LPORT +RADDR +RPORT +OLDSTATE +-> NEWSTATE +MS$/m);
  const { server, client, clientPort } = await session();
  const seen = bySocket(await waitRows(t, [net.server.v4, net.client.v4], 12));
  expect(await t.stop()).toBe(0);
  const sockets = [...seen.values()];
  expect(sockets).toHaveLength(3);
  const ofClient = sockets.find(s => s[0].change === 'CLOSE->SYN_SENT')!;
  const accepted = sockets.find(s => s[0].change === 'LISTEN->SYN_RECV')!;
  const listener = sockets.find(s => s[0].change === 'CLOSE->LISTEN')!;
  expect(ofClient.map(r => r.change)).toEqual(CLIENT);
  expect(accepted.map(r => r.change)).toEqual(ACCEPTED);
  expect(listener.map(r => r.change)).toEqual(LISTENER);
  // addresses and ports; the client's port is 0 until connect() picks it (the first row, as BCC shows)
  expect(ofClient.map(r => [r.laddr, r.lport, r.raddr, r.rport])).toEqual(
    [[net.client.v4, 0, net.server.v4, PORT], ...Array(4).fill([net.client.v4, clientPort, net.server.v4, PORT])]);
  expect(accepted.every(r => r.laddr === net.server.v4 && r.lport === PORT && r.raddr === net.client.v4 && r.rport === clientPort)).toBe(true);
  expect(listener.map(r => [r.laddr, r.lport, r.raddr, r.rport])).toEqual(Array(2).fill([net.server.v4, PORT, '0.0.0.0', 0]));
  // the changes made in a system call carry its caller (the others may run in softirq context)
  expect([ofClient[0].pid, ofClient[2].pid, listener[0].pid, accepted[3].pid]).toEqual([client.pid, client.pid, server.pid, server.pid]);
  expect(ofClient[0].comm).toBe(client.comm.slice(0, 10));
  // ms is the time in the old state: the first change of a socket has none, the client held ESTABLISHED
  expect([ofClient[0].ms, accepted[0].ms, listener[0].ms]).toEqual([0, 0, 0]);
  expect(ofClient[2].ms).toBeGreaterThanOrEqual(HOLD_MS);
  expect(ofClient[2].ms).toBeLessThan(HOLD_MS + 5000);
  expect(listener[1].ms).toBeGreaterThanOrEqual(HOLD_MS);
});

test('-L / -D / -6 filter; -w shows IPv6 with its IP column; -s is CSV; -t; --json', async () => {
  const local = startTool('tcpstates', ['-L', String(PORT)]);
  const remote = startTool('tcpstates', ['-D', `1,${PORT}`, '-s', '-t']);
  const only6 = startTool('tcpstates', ['-6', '-w']);
  const json = startTool('tcpstates', ['--json', '-4']);
  await Promise.all([local, only6].map(r => r.waitFor(/SKADDR/)));
  await remote.waitFor(/^TIME\(s\),SKADDR,C-PID,C-COMM,IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS$/m);
  await attached(json);
  const v4 = await session(4);
  const v6 = await session(6);
  const v4Addrs = [net.server.v4, net.client.v4];
  const v6Addrs = [net.server.v6, net.client.v6];
  // -L 9001: the listener and the accepted socket, the client's socket never
  const l = await waitRows(local, [...v4Addrs, ...v6Addrs], 14);
  expect(l.every(r => r.lport === PORT)).toBe(true);
  expect(l.filter(r => r.laddr === net.server.v4).map(r => r.change).sort()).toEqual([...ACCEPTED, ...LISTENER].sort());
  const w = await waitRows(only6, v6Addrs, 12);
  expect(w.filter(r => r.laddr === net.client.v6).map(r => r.change)).toEqual(CLIENT);
  expect(only6.stdout()).toMatch(new RegExp(`^[0-9a-f]+ +${v6.client.pid} +\\S+ +6 +fd00:201::2 +0 +fd00:201::1 +${PORT} +CLOSE +-> SYN_SENT +0\\.000$`, 'm'));
  const jsonRows = () => json.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => v4Addrs.includes(e.laddr));
  for (let i = 0; i < 200 && jsonRows().length < 12; i++) await new Promise(res => setTimeout(res, 100));
  const e = jsonRows().find(r => r.oldstate === 'CLOSE' && r.newstate === 'SYN_SENT');
  expect(e).toMatchObject({ pid: v4.client.pid, ip: 4, laddr: net.client.v4, lport: 0, raddr: net.server.v4, rport: PORT, span_ms: 0 });
  expect(e.skaddr).toMatch(/^0x[0-9a-f]+$/);
  await Promise.all([local, remote, only6, json].map(r => r.stop()));
  expect(only6.stdout()).not.toContain(net.server.v4);
  expect(json.stdout()).not.toContain(net.server.v6);
  // -D 1,9001 as CSV: the client's rows of both sessions (remote port 9001), seconds since the first row
  const csv = remote.stdout().split('\n').filter(l => l.includes(',10.201.0.2,') || l.includes(',fd00:201::2,'));
  expect(csv.map(l => l.split(',')[9] + '->' + l.split(',')[10])).toEqual([...CLIENT, ...CLIENT]);
  expect(csv.every(l => /^\d+\.\d{6},[0-9a-f]+,\d+,[^,]*,[46],/.test(l) && l.split(',')[8] === String(PORT))).toBe(true);
});

test('conformance: libbpf-tools tcpstates sees the same changes of the same sockets, the same ms', async () => {
  const ours = startTool('tcpstates', []);
  const ref = startReference('tcpstates', []);
  await Promise.all([ours.waitFor(/SKADDR/), ref.waitFor(/SKADDR/)]);
  await session();
  const addrs = [net.server.v4, net.client.v4];
  const [a, b] = await Promise.all([waitRows(ours, addrs, 12), waitRows(ref, addrs, 12)]);
  await Promise.all([ours.stop(), ref.stop()]);
  const key = (r: Row) => `${r.sk} ${r.laddr}:${r.lport} ${r.raddr}:${r.rport} ${r.change}`;
  expect(a.map(key).sort()).toEqual(b.map(key).sort());
  expect(a).toHaveLength(12);
  const refMs = new Map(b.map(r => [key(r), r.ms]));
  // Both programs read bpf_ktime_get_ns in the same tracepoint hit, one after the other: each row's ms
  // agrees within 1 ms. Unless the vCPU is stalled between the two (these machines are VMs with steal
  // time, /proc/stat's 8th column): both stamps of that one hit then differ by the stall, which shifts
  // the row that ends there and the same socket's next row, by the same amount in opposite directions.
  // Seen once in each of two runs (LISTEN->CLOSE on CI; ESTABLISHED->CLOSE_WAIT here). One stall is allowed.
  const off = a.map(r => ({ row: key(r), sk: r.sk, by: r.ms - refMs.get(key(r))! })).filter(o => Math.abs(o.by) >= 1);
  const oneStall = off.length <= 1 ||
    (off.length === 2 && off[0]!.sk === off[1]!.sk && Math.sign(off[0]!.by) !== Math.sign(off[1]!.by) && Math.abs(off[0]!.by + off[1]!.by) < 1);
  expect(oneStall ? [] : off).toEqual([]);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpstates', [['--bogus'], ['-4', '-6'], ['-L', '80,abc'], ['-D', '70000'], ['extra']]);
});
