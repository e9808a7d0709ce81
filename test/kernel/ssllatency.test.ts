// ssllatency on the real kernel: one curl (-p its PID, known before it runs: a shell that execs curl once
// the tools are attached) fetching a page over TLS from the test's Python server on loopback
// (tls-server.ts). Its calls that succeeded: exactly one SSL_do_handshake and one SSL_write, and SSL_reads;
// each histogram holds as many calls as its @stat line counts, in 200 µs slots; --json the same sections.
import { spawn } from 'node:child_process';
import { expectUsageErrors, printed, startTool } from './helpers.js';
import { startTlsServer } from './tls-server.js';

const PORT = 9044;
const RESPONSE = 'HTTP/1.0 200 OK\r\nContent-Length: 17\r\n\r\nhello ssllatency\n';

test('one curl: one successful handshake and one write, reads; histograms as large as their stats', async () => {
  const server = await startTlsServer(PORT, RESPONSE);
  const shell = spawn('sh', ['-c', `read go; exec curl -sk https://127.0.0.1:${PORT}/ssllatency-test`], { stdio: ['pipe', 'pipe', 'ignore'] });
  let body = '';
  shell.stdout.on('data', d => (body += d));
  const t = startTool('ssllatency', ['-p', String(shell.pid)]);
  const json = startTool('ssllatency', ['-p', String(shell.pid), '--json']);
  await Promise.all([t, json].map(printed('Tracing SSL/TLS handshake... Hit Ctrl-C to end.')));
  shell.stdin.end('go\n');
  expect(await new Promise(resolve => shell.on('exit', resolve))).toBe(0);
  expect(body).toBe('hello ssllatency\n');
  expect(await server.exited).toBe(0);
  await Promise.all([t.stop(), json.stop()]);
  const out = t.stdout();
  const stat = (map: string, func: string) => Number(new RegExp(`^@${map}\\[${func}\\]: count (\\d+), average \\d+, total \\d+$`, 'm').exec(out)?.[1] ?? 0);
  expect(stat('stat', 'SSL_do_handshake')).toBe(1);
  expect(stat('stat', 'SSL_write')).toBe(1);
  expect(stat('stat', 'SSL_read')).toBeGreaterThanOrEqual(1);
  // each histogram's rows add up to its stat's count
  const hists = [...out.matchAll(/^@(hist|histF)\[(\w+)\]: \n((?:\[.*\n)+)/gm)];
  expect(hists.map(m => m[1] + m[2])).toEqual(expect.arrayContaining(['histSSL_do_handshake', 'histSSL_write', 'histSSL_read']));
  for (const m of hists) {
    const rows = m[3].trim().split('\n');
    expect(rows.every(r => /^\[\d+, (\d+|\.\.\.)\) +\d+ \|@* *\|$/.test(r))).toBe(true);
    const sum = rows.reduce((a, r) => a + Number(/\) +(\d+) \|/.exec(r)![1]), 0);
    expect([m[1], m[2], sum]).toEqual([m[1], m[2], stat(m[1] === 'hist' ? 'stat' : 'statF', m[2])]);
  }
  const [record] = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(record).toMatchObject({ tool: 'ssllatency', kind: 'histogram', scale: 'linear', section_by: 'func' });
  const ok = (func: string) => record.sections.find((s: { key: string; failed: boolean }) => s.key === func && !s.failed);
  expect(ok('SSL_do_handshake')).toMatchObject({ count: 1, total: 1 });
  expect(ok('SSL_write')).toMatchObject({ count: 1, total: 1 });
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('ssllatency', [['--bogus'], ['-p', 'x'], ['-p', '999999999'], ['extra']]);
});
