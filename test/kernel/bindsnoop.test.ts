// bindsnoop on the real kernel: a Python program binds five sockets on loopback with known options
// (test/fixtures/binds.py): SO_REUSEADDR; the same port again (EADDRINUSE); IPv6 UDP port 0 with
// SO_REUSEPORT (the kernel's port); IP_FREEBIND + IP_TRANSPARENT + IP_BIND_ADDRESS_NO_PORT to a foreign
// address; SO_BINDTODEVICE lo. Each bind is shown with exactly its address, port, options and device.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { attached, expectUsageErrors, root, startTool, track, waitUntil } from './helpers.js';

const PORT = 9016;
const LO_INDEX = Number(fs.readFileSync('/sys/class/net/lo/ifindex', 'utf8'));

async function binds() {
  const py = track(spawn('python3', [path.join(root, 'test', 'fixtures', 'binds.py'), String(PORT)], { stdio: ['ignore', 'pipe', 'pipe'] }), 'binds.py');
  expect(await py.exited).toBe(0);
  const [pid, ...lines] = py.stdout().trim().split('\n');
  return { pid: Number(pid.split(' ')[1]), binds: Object.fromEntries(lines.map(l => l.split(' ')).map(([name, ip, addr, port, err]) => [name, { ip, addr, port: Number(port), err: Number(err) }])) };
}

test('each bind with its address, port, options and device; -E shows the failed one; --count; -P --json', async () => {
  const t = startTool('bindsnoop', ['-E', '-U', '-w']);
  const counted = startTool('bindsnoop', ['--count']);
  const byPort = startTool('bindsnoop', ['-P', `${PORT},${PORT + 1}`, '--json']);
  await t.waitFor(/^ +UID RC +PID COMM +PROT ADDR +PORT +OPTS IF$/m);
  await Promise.all([counted, byPort].map(attached));
  const { pid, binds: b } = await binds();
  const mine = () => t.stdout().split('\n').filter(l => l.trim().split(/ +/)[2] === String(pid));
  const events = () => byPort.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.pid === pid);
  await waitUntil(() => mine().length >= 5 && events().length >= 3, 'the binds reported');
  await Promise.all([t.stop(), counted.stop(), byPort.stop()]);
  expect(b.inuse.err).toBe(98);
  const row = (rc: string, prot: string, addr: string, port: number, opts: string, dev: number) =>
    expect.stringMatching(new RegExp(`^ +0 ${rc} +${pid} python3 +${prot} +${addr.replace(/\./g, '\\.')} +${port} ${opts.replace(/\./g, '\\.')} +${dev}$`));
  expect(mine()).toEqual([
    row('0', 'TCP', '127.0.0.1', PORT, '...R.', 0),
    row('EADDRINUSE', 'TCP', '127.0.0.1', PORT, '.....', 0),
    row('0', 'UDP', '::1', b.reuseport6.port, '....r', 0),
    row('0', 'TCP', '192.0.2.1', PORT + 1, 'FTN..', 0),
    row('0', 'UDP', '127.0.0.1', PORT + 1, '.....', LO_INDEX),
  ]);
  // without -E the failed bind is not counted
  expect(counted.stdout()).toMatch(/^LADDR +LPORT +BINDS *$/m);
  expect(counted.stdout()).toMatch(new RegExp(`^127\\.0\\.0\\.1 +${PORT} +1 *$`, 'm'));
  expect(counted.stdout()).toMatch(new RegExp(`^::1 +${b.reuseport6.port} +1 *$`, 'm'));
  expect(events().map(e => [e.protocol, e.addr, e.port, e.opts])).toEqual([
    ['TCP', '127.0.0.1', PORT, '...R.'], ['TCP', '192.0.2.1', PORT + 1, 'FTN..'], ['UDP', '127.0.0.1', PORT + 1, '.....'],
  ]);
  expect(t.stderr()).toBe('bindsnoop: no kprobes here: tracing bind() at syscalls:sys_enter_bind/sys_exit_bind\n');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('bindsnoop', [['--bogus'], ['-P', '80,abc'], ['-p', 'x'], ['-u', 'nosuchuser'], ['extra']]);
});
