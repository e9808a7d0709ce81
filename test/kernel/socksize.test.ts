// socksize on the real kernel: a program of the test's own sends 20 TCP writes of exactly 1000 bytes,
// read at the other end in one recv() of 20 000: its @write_bytes section has those 20 in the 512 -> 1023
// row, its @read_bytes section the one read in 16384 -> 32767 (with -p its PID; --json alike).
import fs from 'node:fs';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, tmpDir } from './helpers.js';
import { histRows, histSection } from './disk-workload.js';
import { traceSockWork } from './sock-work.js';

let dir: string;
beforeAll(() => (dir = tmpDir('bpfkit-socksize-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('20 writes of 1000 bytes: 20 in 512 -> 1023 of the writer\'s histogram; the one 20 000-byte read in 16384 -> 32767', async () => {
  const { tools: [text, json, all] } = await traceSockWork(dir, 'socksizework', 'tcp_sessions(AF_INET, 1, 20, 1000);',
    pid => [['socksize', ['-p', pid]], ['socksize', ['--json', '-p', pid, '99']], ['socksize', ['-T', '99']]]);
  const out = text.stdout();
  expect(out.split('\n')[0]).toBe('Tracing socket I/O sizes... Hit Ctrl-C to end.');
  const [reads, writes] = out.split('@write_bytes:');
  const rows = (part: string) => histRows(histSection(part!, 'comm', 'socksizework') ?? '').filter(r => r.count > 0);
  // besides: node's Unix stdio socket, the byte that starts it (0 -> 1) and its "done" (4 -> 7)
  expect(rows(writes!)).toEqual([{ low: 4, high: 7, count: 1 }, { low: 512, high: 1023, count: 20 }]);
  expect(rows(reads!)).toEqual([{ low: 0, high: 1, count: 1 }, { low: 16384, high: 32767, count: 1 }]);
  expect(histSection(writes!, 'comm', 'socksizework')!.split('\n')[0]).toBe('     bytes               : count     distribution');
  expect(text.stderr()).toBe('socksize: sizes from sock:sock_recv_length/sock_send_length: this kernel has no kprobes for sock_recvmsg/sock_sendmsg\n');
  expect(all.stdout()).toMatch(/^\d\d:\d\d:\d\d\n@read_bytes:$/m);
  expect(histRows(histSection(all.stdout().split('@write_bytes:')[1]!, 'comm', 'socksizework') ?? '').find(r => r.low === 512)?.count).toBe(20);
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  expect(records.map(r => [r.dir, r.section_by])).toEqual([['read', 'comm'], ['write', 'comm']]);
  const mine = records[1].sections.find((s: { key: string }) => s.key === 'socksizework');
  expect(mine.buckets.find((b: { start: number }) => b.start === 512)).toEqual({ start: 512, end: 1023, count: 20 });
  expect(mine.total).toBe(21);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('socksize', [['--bogus'], ['0'], ['1', '0'], ['-p', 'x'], ['-p', '999999999'], ['1', '2', '3']]);
});
