// socketio on the real kernel: a program of the test's own sends exactly 10 000 bytes over TCP in 10
// send()s of 1000, read at the other end in one recv(), and 1500 bytes over UDP/IPv6 in 5 datagrams of
// 300, each read on its own; its rows (with -p) show those calls and bytes, by direction and protocol.
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, tmpDir } from './helpers.js';
import { traceSockWork } from './sock-work.js';

let dir: string;
beforeAll(() => (dir = tmpDir('bpfkit-socketio-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('K bytes in S sends: the sender\'s write row has S calls and K bytes, the reader\'s its own', async () => {
  const { tools: [text, json, all], pid } = await traceSockWork(dir, 'socketiowork', 'tcp_sessions(AF_INET, 1, 10, 1000); udp_sends(AF_INET6, 1, 5, 300);',
    p => [['socketio', ['-p', p]], ['socketio', ['--json', '-p', p, '99']], ['socketio', ['99']]]);
  const out = text.stdout();
  const row = (map: string, dir: string, prot: string, port = '\\d+') => new RegExp(`^@${map}\\[socketiowork, ${pid}, ${dir}, ${prot}, ${port}\\]: (\\d+)$`, 'm');
  expect(out.split('\n')[0]).toBe('Tracing socket I/O... Hit Ctrl-C to end.');
  expect(row('io', 'write', 'TCP').exec(out)?.[1]).toBe('10');
  expect(row('bytes', 'write', 'TCP').exec(out)?.[1]).toBe('10000');
  expect(row('io', 'read', 'TCP').exec(out)?.[1]).toBe('1');
  expect(row('bytes', 'read', 'TCP').exec(out)?.[1]).toBe('10000');
  expect(row('io', 'write', 'UDPv6').exec(out)?.[1]).toBe('5');
  expect(row('bytes', 'write', 'UDPv6').exec(out)?.[1]).toBe('1500');
  expect(row('io', 'read', 'UDPv6', '0').exec(out)?.[1]).toBe('5'); // the receiver is not connected
  expect(row('bytes', 'read', 'UDPv6', '0').exec(out)?.[1]).toBe('1500');
  // the rest of its socket I/O: node's Unix stdio socket, the byte that starts it and its "done"
  expect(out.match(/^@io\[.*$/gm)).toHaveLength(6);
  expect(text.stderr()).toBe('socketio: counted at sock:sock_recv_length/sock_send_length: this kernel has no kprobes for sock_recvmsg/sock_sendmsg\n');
  expect(all.stdout()).toMatch(row('bytes', 'write', 'TCP'));
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  const rows = records.flatMap(r => r.rows);
  expect(rows).toEqual(expect.arrayContaining([
    expect.objectContaining({ comm: 'socketiowork', pid, dir: 'write', protocol: 'TCP', count: 10, bytes: 10000 }),
    expect.objectContaining({ comm: 'socketiowork', pid, dir: 'read', protocol: 'UDPv6', port: 0, count: 5, bytes: 1500 }),
  ]));
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('socketio', [['--bogus'], ['0'], ['1', '0'], ['-p', 'x'], ['-p', '999999999'], ['1', '2', '3']]);
});
