// sockstat on the real kernel: a program of the test's own makes exactly 4 TCP sessions on the loopback
// (5 socket(), 1 bind(), 4 connect(), 4 accept(), 12 send()s read in 4 recv()s) plus 2 Unix socketpairs;
// with -p its PID, the counts over the intervals are exactly those; without, at least those. (Its stdin and
// stdout are the Unix sockets node spawns a child with: the byte that starts it is one recvmsg more, its
// "done" one sendmsg more.)
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, tmpDir } from './helpers.js';
import { traceSockWork } from './sock-work.js';
import fs from 'node:fs';

let dir: string;
beforeAll(() => (dir = tmpDir('bpfkit-sockstat-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sum = (lines: string[], re: RegExp) => lines.map(l => re.exec(l)).filter(Boolean).reduce((a, m) => a + Number(m![1]), 0);

test('exact counts of a known workload with -p; at least those without; --json rows sum to them', async () => {
  const { tools: [byPid, all, json] } = await traceSockWork(dir, 'sockstatwork',
    'tcp_sessions(AF_INET, 4, 3, 100); int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv); socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);',
    pid => [['sockstat', ['-p', pid, '1']], ['sockstat', ['1']], ['sockstat', ['--json', '-p', pid, '1']]]);
  const expected: [string, number][] = [
    ['tracepoint:syscalls:sys_enter_socket', 5], ['tracepoint:syscalls:sys_enter_bind', 1],
    ['tracepoint:syscalls:sys_enter_connect', 4], ['tracepoint:syscalls:sys_enter_socketpair', 2],
    ['tracepoint:sock:sock_send_length', 13], ['tracepoint:sock:sock_recv_length', 5],
  ];
  const lines = byPid.stdout().split('\n');
  expect(lines[0]).toBe('Tracing sock statistics. Output every 1 second.');
  expect(lines.filter(l => l.startsWith('@')).every(l => /^@\[tracepoint:(syscalls|sock):\w+\]: \d+$/.test(l))).toBe(true);
  const esc = (p: string) => p.replace(/[[\]]/g, '\\$&');
  for (const [probe, n] of expected) {
    expect([probe, sum(lines, new RegExp(`^@\\[${esc(probe)}\\]: (\\d+)$`))]).toEqual([probe, n]);
    expect(sum(all.stdout().split('\n'), new RegExp(`^@\\[${esc(probe)}\\]: (\\d+)$`))).toBeGreaterThanOrEqual(n);
  }
  // glibc's accept() is accept or accept4, by architecture: 4 in all
  expect(sum(lines, /^@\[tracepoint:syscalls:sys_enter_accept4?\]: (\d+)$/)).toBe(4);
  expect(byPid.stderr()).toBe('sockstat: sock_sendmsg/sock_recvmsg counted at sock:sock_send_length/sock_recv_length: this kernel has no kprobes\n');
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  const total = (f: string) => records.reduce((a, r) => a + r.rows[0][f], 0);
  expect({ socket: total('socket'), bind: total('bind'), connect: total('connect'), accept: total('accept') + total('accept4'),
    socketpair: total('socketpair'), sendmsg: total('sendmsg'), recvmsg: total('recvmsg') })
    .toEqual({ socket: 5, bind: 1, connect: 4, accept: 4, socketpair: 2, sendmsg: 13, recvmsg: 5 });
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('sockstat', [['--bogus'], ['0'], ['1', '0'], ['-p', 'x'], ['-p', '999999999'], ['1', '2', '3']]);
});
