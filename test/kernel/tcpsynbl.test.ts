// tcpsynbl on the real kernel: a listener that never accepts, with a tiny backlog B, in one network namespace
// of the test (netns.ts), and 2B+2 connects from the other. The kernel completes B+1 handshakes (an accept
// queue holds up to B+1) and refuses the rest; the histogram of that listener (backlog_max = B) has exactly
// those B+1 samples, 0 to B: it reaches the backlog limit. IPv4 (B = 7) and IPv6 (B = 3, -6 --json).
import { spawn } from 'node:child_process';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, histogramRows, startTool, track, waitUntil } from './helpers.js';

const PORT = 9019;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

const python = (ns: string, code: string) =>
  track(spawn('ip', ['netns', 'exec', ns, 'python3', '-c', code], { stdio: ['pipe', 'pipe', 'pipe'] }), `python3 in ${ns}`);

/** A listener of backlog `b` that never accepts, 2b+2 connects to it; resolves once its queue is full. */
async function fill(addr: string, family: string, b: number) {
  const listener = python(net.server.ns, `import socket, sys
s = socket.socket(socket.${family}); s.bind(("${addr}", ${PORT})); s.listen(${b}); print("listening", flush=True); sys.stdin.read()`);
  await listener.waitFor(/listening/);
  const clients = python(net.client.ns, `import socket, sys
cs = [socket.socket(socket.${family}) for i in range(${2 * b + 2})]
for c in cs:
    c.setblocking(False)
    c.connect_ex(("${addr}", ${PORT}))
print("connecting", flush=True); sys.stdin.read()`);
  await clients.waitFor(/connecting/);
  // ss: a listener's Recv-Q is its accept queue
  const queue = () => Number(net.exec(net.server.ns, ['ss', '-Hltn', 'sport', '=', `:${PORT}`]).trim().split(/\s+/)[1]);
  await waitUntil(() => queue() === b + 1, `the accept queue at ${b + 1}`);
  return () => {
    for (const p of [listener, clients]) p.child.stdin!.end();
    return Promise.all([listener.exited, clients.exited]);
  };
}

test('a full listener: its backlog_max section holds the B+1 completed handshakes, 0 to B', async () => {
  const t = startTool('tcpsynbl', []);
  const only6 = startTool('tcpsynbl', ['-6', '--json']);
  await Promise.all([t, only6].map(attached));
  const end4 = await fill(net.server.v4, 'AF_INET', 7);
  await end4();
  const end6 = await fill(net.server.v6, 'AF_INET6', 3);
  await Promise.all([t.stop(), only6.stop()]);
  await end6();
  const section = (text: string, b: number) => text.split('\n\n').map(s => s.trim()).find(s => s.startsWith(`backlog_max = ${b}\n`)) ?? '';
  expect(histogramRows(section(t.stdout(), 7))).toEqual([['0-1', 2], ['2-3', 2], ['4-7', 4]]);
  expect(histogramRows(section(t.stdout(), 3))).toEqual([['0-1', 2], ['2-3', 2]]);
  const [record] = only6.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l));
  expect(record).toMatchObject({ kind: 'histogram', val_type: 'backlog', section_by: 'backlog_max' });
  const six = record.sections.find((s: { key: number }) => s.key === 3);
  expect(six).toMatchObject({ total: 4, buckets: [{ start: 0, end: 1, count: 2 }, { start: 2, end: 3, count: 2 }] });
  expect(record.sections.find((s: { key: number }) => s.key === 7)).toBeUndefined();
  expect(t.stderr()).toBe('tcpsynbl: no kprobes here: the backlog copied into each new child at sock:inet_sock_set_state LISTEN->SYN_RECV\n');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpsynbl', [['--bogus'], ['-4', '-6'], ['extra']]);
});
