// sofamily on the real kernel: a program of the test's own makes 3 TCP sessions over IPv4, 2 over IPv6
// and 1 Unix stream session, connecting and accepting each: with -p its PID, exactly those counts by
// family, for connect() and for accept() (which it gives no address: counted all the same).
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, tmpDir } from './helpers.js';
import { traceSockWork } from './sock-work.js';

let dir: string;
beforeAll(() => (dir = tmpDir('bpfkit-sofamily-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('IPv4, IPv6 and Unix connects and accepts counted by family', async () => {
  const { tools: [text, json] } = await traceSockWork(dir, 'sofamilywork', 'tcp_sessions(AF_INET, 3, 0, 0); tcp_sessions(AF_INET6, 2, 0, 0); unix_sessions(1);',
    pid => [['sofamily', ['-p', pid]], ['sofamily', ['--json', '-p', pid, '99']]]);
  expect(text!.stdout().split('\n').filter(l => l.startsWith('@')).sort()).toEqual([
    '@accept[sofamilywork, 1, AF_UNIX]: 1', '@accept[sofamilywork, 10, AF_INET6]: 2', '@accept[sofamilywork, 2, AF_INET]: 3',
    '@connect[sofamilywork, 1, AF_UNIX]: 1', '@connect[sofamilywork, 10, AF_INET6]: 2', '@connect[sofamilywork, 2, AF_INET]: 3',
  ]);
  expect(text!.stdout().split('\n')[0]).toBe('Tracing socket connect/accepts. Ctrl-C to end.');
  expect(text!.stderr()).toBe('sofamily: accept() counted at its exit by the socket it returns: a family also for the accepts given no address\n');
  const records = json!.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  expect(records.flatMap(r => r.rows)).toEqual(expect.arrayContaining([
    { call: 'connect', comm: 'sofamilywork', family: 10, family_name: 'AF_INET6', count: 2 },
    { call: 'accept', comm: 'sofamilywork', family: 2, family_name: 'AF_INET', count: 3 },
  ]));
  expect(records.flatMap(r => r.rows)).toHaveLength(6);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('sofamily', [['--bogus'], ['0'], ['1', '0'], ['-p', 'x'], ['-p', '999999999'], ['1', '2', '3']]);
});
