// soprotocol on the real kernel: a program of the test's own makes 3 TCP sessions over IPv4 and 1 over
// IPv6 (connecting and accepting each), and connect()s a UDP socket twice: with -p its PID, exactly
// those counts by protocol number, name and the kernel's protocol ("TCP", "TCPv6", "UDP").
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, tmpDir } from './helpers.js';
import { traceSockWork } from './sock-work.js';

let dir: string;
beforeAll(() => (dir = tmpDir('bpfkit-soprotocol-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('N TCP and M UDP connects counted by protocol', async () => {
  const { tools: [text, json] } = await traceSockWork(dir, 'soprotowork', 'tcp_sessions(AF_INET, 3, 0, 0); udp_sends(AF_INET, 2, 0, 0); tcp_sessions(AF_INET6, 1, 0, 0);',
    pid => [['soprotocol', ['-p', pid]], ['soprotocol', ['--json', '-p', pid, '99']]]);
  expect(text!.stdout().split('\n').filter(l => l.startsWith('@')).sort()).toEqual([
    '@accept[soprotowork, 6, IPPROTO_TCP, TCP]: 3', '@accept[soprotowork, 6, IPPROTO_TCP, TCPv6]: 1',
    '@connect[soprotowork, 17, IPPROTO_UDP, UDP]: 2', '@connect[soprotowork, 6, IPPROTO_TCP, TCP]: 3', '@connect[soprotowork, 6, IPPROTO_TCP, TCPv6]: 1',
  ]);
  expect(text!.stderr()).toMatch(/^soprotocol: .*this kernel has no kprobes for security_socket_connect\/accept\n$/);
  const records = json!.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  expect(records.flatMap(r => r.rows)).toEqual(expect.arrayContaining([
    { call: 'connect', comm: 'soprotowork', protocol: 17, protocol_name: 'IPPROTO_UDP', proto: 'UDP', count: 2 },
    { call: 'accept', comm: 'soprotowork', protocol: 6, protocol_name: 'IPPROTO_TCP', proto: 'TCP', count: 3 },
  ]));
  expect(records.flatMap(r => r.rows)).toHaveLength(5);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('soprotocol', [['--bogus'], ['0'], ['1', '0'], ['-p', 'x'], ['-p', '999999999'], ['1', '2', '3']]);
});
