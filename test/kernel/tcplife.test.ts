// tcplife on the real kernel: loopback TCP sessions (IPv4 and IPv6) with known bytes each way.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { attached, expectUsageErrors, root, sleep, startReference, startTool } from './helpers.js';

/** Runs one session; returns the server port, and the PID and comm of the process that owns both ends. */
function session(host = '127.0.0.1'): { port: number; pid: number; comm: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'test', 'fixtures', 'tcp-session.mjs'), host], { encoding: 'utf8' });
  const m = /port (\d+) pid (\d+) got 51200 comm (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`session failed: ${r.stdout}${r.stderr}`);
  return { port: Number(m[1]), pid: Number(m[2]), comm: m[3] };
}

test('IPv4 and IPv6 sessions: both ends with ports, KB each way and PID; Ctrl-C exits 0', async () => {
  const t = startTool('tcplife', ['-w']);
  await t.waitFor(/RADDR/);
  const v4 = session('127.0.0.1');
  const v6 = session('::1');
  // server side: local port = listening port, sent 50 KiB, received 100 KiB
  await t.waitFor(new RegExp(`^${v4.pid} +${v4.comm} +4 +127\\.0\\.0\\.1 +${v4.port} +127\\.0\\.0\\.1 +\\d+ +50 +100 +[\\d.]+$`, 'm'));
  await t.waitFor(new RegExp(`^${v4.pid} +${v4.comm} +4 +127\\.0\\.0\\.1 +\\d+ +127\\.0\\.0\\.1 +${v4.port} +100 +50 +[\\d.]+$`, 'm'));
  await t.waitFor(new RegExp(`^${v6.pid} +${v6.comm} +6 +::1 +${v6.port} +::1 +\\d+ +50 +100 `, 'm'));
  await t.waitFor(new RegExp(`^${v6.pid} +${v6.comm} +6 +::1 +\\d+ +::1 +${v6.port} +100 +50 `, 'm'));
  expect(t.stdout().split('\n')[0]).toMatch(/^PID +COMM +IP LADDR +LPORT RADDR +RPORT +TX_KB +RX_KB MS$/);
  expect(await t.stop()).toBe(0);
});

test('-4 / -6 / -L / -D filter; -s prints CSV; --json', async () => {
  const only6 = startTool('tcplife', ['-6', '-s']);
  const json = startTool('tcplife', ['--json', '-4']);
  await only6.waitFor(/^PID,COMM,IP,LADDR/m);
  await attached(json); // JSON mode prints no header
  const v4 = session('127.0.0.1');
  const v6 = session('::1');
  await only6.waitFor(new RegExp(`^${v6.pid},${v6.comm},6,::1,${v6.port},::1,\\d+,50,100,[\\d.]+$`, 'm'));
  const m = await json.waitFor(new RegExp(`^\\{.*"lport":${v4.port}.*\\}$`, 'm'));
  const e = JSON.parse(m[0]);
  expect(e).toMatchObject({ pid: v4.pid, comm: v4.comm, ip: 4, laddr: '127.0.0.1' });
  // tcp_sock's counters are sequence space: the FIN counts one byte when it was acked
  expect([51200, 51201]).toContain(e.tx_bytes);
  expect([102400, 102401]).toContain(e.rx_bytes);
  await Promise.all([only6.stop(), json.stop()]);
  expect(only6.stdout()).not.toContain('127.0.0.1');
  expect(json.stdout()).not.toContain('::1');

  const byPort = startTool('tcplife', ['-D', '1,2,3']);
  await byPort.waitFor(/RADDR/);
  session();
  await sleep(500);
  await byPort.stop();
  expect(byPort.stdout().trim().split('\n')).toHaveLength(1); // header only: no session to ports 1-3
});

test('conformance: libbpf-tools tcplife sees the same session, ports and bytes', async () => {
  const ours = startTool('tcplife', []);
  const ref = startReference('tcplife', []);
  await Promise.all([ours.waitFor(/RADDR/), ref.waitFor(/RADDR/)]);
  const s = session();
  const serverRow = new RegExp(`^${s.pid} +\\S+ +127\\.0\\.0\\.1 +${s.port} +127\\.0\\.0\\.1 +\\d+ +([\\d.]+) +([\\d.]+) `, 'm');
  const [a, b] = await Promise.all([ours.waitFor(serverRow), ref.waitFor(serverRow)]);
  await Promise.all([ours.stop(), ref.stop()]);
  expect([a[1], a[2]]).toEqual(['50', '100']);
  // libbpf-tools prints KB with two decimals (50.00): the same bytes
  expect([Math.floor(Number(b[1])), Math.floor(Number(b[2]))]).toEqual([50, 100]);
});

test('-t: seconds from the first session reported (BCC: the first row is 0.000000)', async () => {
  const t = startTool('tcplife', ['-t']);
  await t.waitFor(/RADDR/);
  await sleep(1000); // a second attached before any session: it must not count
  const first = session();
  await sleep(300);
  const second = session();
  const rows = () => t.stdout().split('\n').filter(l => /^\d+\.\d{6} +\d+ /.test(l));
  const ours = (pid: number) => rows().filter(l => l.split(/ +/)[1] === String(pid)).map(l => Number(l.split(/ +/)[0]));
  for (let i = 0; i < 100 && ours(second.pid).length < 2; i++) await sleep(100);
  await t.stop();
  expect(t.stdout().split('\n')[0]).toMatch(/^TIME\(s\) +PID +COMM/);
  expect(rows()[0]).toMatch(/^0\.000000 /); // the first row printed, whoever's session it is
  const [a, b] = [ours(first.pid), ours(second.pid)];
  expect([a.length, b.length]).toEqual([2, 2]); // both ends of each session
  expect(Math.min(...b) - Math.max(...a)).toBeGreaterThanOrEqual(0.3); // 0.3 s apart, in the kernel's clock
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcplife', [['--bogus'], ['-p', 'x'], ['-4', '-6'], ['-L', '80,abc'], ['extra']]);
});
