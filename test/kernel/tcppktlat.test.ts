// tcppktlat on the real kernel: a Python server in a network namespace of the test (netns.ts) that, for
// each of 3 messages, waits until the data has arrived (select), then sleeps 50 ms before reading it, and
// a client in the other namespace that sends the next message once the server answers. Each message is
// one segment, so the server's socket shows exactly 3 latencies of 50 ms or more, in the server's process;
// the minimum (positional, µs) keeps them at 40 ms and drops them at 10 s; -4 sees none of this IPv6 session.
import { spawn } from 'node:child_process';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { attached, expectUsageErrors, startTool } from './helpers.js';

const PORT = 9041;
const MESSAGES = 3;
let net: TestNetwork;
beforeAll(() => (net = createTestNetwork()));
afterAll(() => net.remove());

function python(ns: string, code: string) {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', d => (out += d));
  const until = (re: RegExp) => new Promise<string>((resolve, reject) => {
    const check = () => (re.test(out) ? resolve(out) : undefined);
    child.stdout!.on('data', check);
    child.on('exit', () => (re.test(out) ? resolve(out) : reject(new Error(`python exited without ${re}: ${out}`))));
    check();
  });
  return { child, until, exited: new Promise(resolve => child.on('exit', resolve)) };
}

test('a reader that sleeps 50 ms before each read: that many latencies >= 50 ms, in its process, on its port', async () => {
  const all = startTool('tcppktlat', ['-l', String(PORT)]);
  const json = startTool('tcppktlat', ['-6', '-l', String(PORT), '--json', '40000']);
  const none = startTool('tcppktlat', ['-l', String(PORT), '10000000']);
  const v4 = startTool('tcppktlat', ['-4', '-l', String(PORT)]);
  await Promise.all([all, json, none, v4].map(attached));
  const server = python(net.server.ns, `import os, select, socket, time
s = socket.socket(socket.AF_INET6); s.bind(("${net.server.v6}", ${PORT})); s.listen(1)
print("listening", os.getpid(), flush=True)
a, _ = s.accept()
for i in range(${MESSAGES}):
    select.select([a], [], [])
    time.sleep(0.05)
    a.recv(65536); a.sendall(b"k")
print("done", flush=True)`);
  const [, pid] = /listening (\d+)/.exec(await server.until(/listening \d+/))!;
  const client = python(net.client.ns, `import socket
c = socket.create_connection(("${net.server.v6}", ${PORT}))
for i in range(${MESSAGES}):
    c.sendall(b"m" * 100); c.recv(10)`);
  await server.until(/done/);
  await Promise.all([server.exited, client.exited]);
  await Promise.all([all, json, none, v4].map(t => t.stop()));
  const lines = all.stdout().trim().split('\n');
  expect(lines[0]).toMatch(/^PID +TID +COMM +LADDR +LPORT +RADDR +RPORT +MS$/);
  const rows = lines.slice(1).map(l => l.split(/ +/));
  expect(rows).toHaveLength(MESSAGES);
  for (const [p, tid, comm, laddr, lport, raddr, , ms] of rows) {
    expect([p, tid, comm, laddr, lport, raddr]).toEqual([pid, pid, 'python3', net.server.v6, String(PORT), net.client.v6]);
    expect(Number(ms)).toBeGreaterThanOrEqual(50);
  }
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(MESSAGES);
  for (const r of records) {
    expect(r).toMatchObject({ tool: 'tcppktlat', kind: 'event', pid: Number(pid), comm: 'python3', ip: 6, lport: PORT });
    expect(r.ms).toBeGreaterThanOrEqual(50);
  }
  expect(none.stdout().trim().split('\n')).toHaveLength(1);
  expect(v4.stdout().trim().split('\n')).toHaveLength(1);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcppktlat', [['--bogus'], ['-4', '-6'], ['-l', '70000'], ['-r', 'x'], ['-W', '0'], ['-p', '999999999'], ['-t', 'x'],
    ['-1'], ['x'], ['10', '20']]);
});
