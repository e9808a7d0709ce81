// solisten on the real kernel: a Python program listens on a bound IPv4 socket with backlog 7, and on an
// unbound IPv6 one with a backlog above net.core.somaxconn (listen() binds a port and caps the backlog).
// Each listen is shown with its PID, protocol, backlog, port and address; --netns filters by namespace.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { attached, expectUsageErrors, startTool, track, waitUntil } from './helpers.js';

const PORT = 9018;
const LISTENS = `
import os, socket
print(os.getpid(), flush=True)
s = socket.socket(); s.bind(("127.0.0.1", ${PORT})); s.listen(7)
u = socket.socket(socket.AF_INET6); u.listen(100000)
print(u.getsockname()[1], flush=True)
`;

test('each listen: PID, protocol, backlog (capped at somaxconn), port and address; --show-netns, -n, --json', async () => {
  const netns = fs.statSync('/proc/self/ns/net').ino;
  const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  const t = startTool('solisten', ['--show-netns']);
  const here = startTool('solisten', ['-n', String(netns), '--json']);
  const elsewhere = startTool('solisten', ['-n', '1']); // no namespace has inode 1
  await t.waitFor(/^PID +COMM +NETNS +PROTO +BACKLOG +PORT +ADDR *$/m);
  await Promise.all([here, elsewhere].map(attached));
  const py = track(spawn('python3', ['-c', LISTENS], { stdio: ['ignore', 'pipe', 'pipe'] }), 'python3');
  expect(await py.exited).toBe(0);
  const [pid, autoPort] = py.stdout().trim().split('\n').map(Number);
  const mine = () => t.stdout().split('\n').filter(l => l.startsWith(`${pid} `)).map(l => l.trim().split(/ +/));
  const events = () => here.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.pid === pid);
  await waitUntil(() => mine().length >= 2 && events().length >= 2, 'the listens reported');
  await Promise.all([t.stop(), here.stop(), elsewhere.stop()]);
  expect(mine()).toEqual([
    [String(pid), 'python3', String(netns), 'TCPv4', '7', String(PORT), '127.0.0.1'],
    [String(pid), 'python3', String(netns), 'TCPv6', String(somaxconn), String(autoPort), '::'],
  ]);
  expect(events()).toEqual([
    expect.objectContaining({ comm: 'python3', netns, proto: 'TCPv4', backlog: 7, port: PORT, addr: '127.0.0.1' }),
    expect.objectContaining({ comm: 'python3', netns, proto: 'TCPv6', backlog: somaxconn, port: autoPort, addr: '::' }),
  ]);
  expect(elsewhere.stdout()).not.toContain(`${pid} `);
  expect(t.stderr()).toBe('solisten: no kprobes here: tracing listen() at syscalls:sys_enter_listen/sys_exit_listen\n');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('solisten', [['--bogus'], ['-p', 'x'], ['-n', 'x'], ['extra']]);
});
