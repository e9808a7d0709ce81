// sslsnoop on the real kernel: one curl fetching a page over TLS from the test's Python server on loopback
// (tls-server.ts). curl's thread shows exactly one SSL_do_handshake that succeeds (returns 1; a
// non-blocking handshake may first return -1), exactly one SSL_write returning the request's length, and
// SSL_reads whose positive returns add up to the response; the server's own handshake returns 1 once. -p
// the server: its calls only.
import { spawn } from 'node:child_process';
import { expectUsageErrors, printed, startTool } from './helpers.js';
import { startTlsServer } from './tls-server.js';

const PORT = 9043;
const RESPONSE = 'HTTP/1.0 200 OK\r\nContent-Length: 15\r\n\r\nhello sslsnoop\n';

interface Row { tid: number; comm: string; lat: number; ret: number; func: string }
const rows = (text: string): Row[] => [...text.matchAll(/^(\d+) +(\d+) +(\S+) +(\d+) +(-?\d+) (\S+)$/gm)]
  .map(m => ({ tid: Number(m[2]), comm: m[3], lat: Number(m[4]), ret: Number(m[5]), func: m[6] }));

test('one curl: one successful handshake on each side, one write of the request, reads that add up to the response', async () => {
  const server = await startTlsServer(PORT, RESPONSE);
  const t = startTool('sslsnoop');
  const json = startTool('sslsnoop', ['--json']);
  const serverOnly = startTool('sslsnoop', ['-p', String(server.child.pid)]);
  await Promise.all([t, json, serverOnly].map(printed('Tracing SSL/TLS handshake... Hit Ctrl-C to end.')));
  const curl = spawn('curl', ['-sk', `https://127.0.0.1:${PORT}/sslsnoop-test`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let body = '';
  curl.stdout.on('data', d => (body += d));
  expect(await new Promise(resolve => curl.on('exit', resolve))).toBe(0);
  expect(body).toBe('hello sslsnoop\n');
  expect(await server.exited).toBe(0);
  await Promise.all([t.stop(), json.stop(), serverOnly.stop()]);
  expect(t.stdout()).toMatch(/^TIME\(us\) +TID +COMM +LAT\(us\) +RET FUNC$/m);
  const mine = rows(t.stdout()).filter(r => r.tid === curl.pid);
  const of = (list: Row[], func: string) => list.filter(r => r.func === func);
  expect(of(mine, 'SSL_do_handshake').filter(r => r.ret === 1)).toHaveLength(1);
  expect(of(mine, 'SSL_do_handshake').every(r => r.ret === 1 || r.ret === -1)).toBe(true);
  expect(of(mine, 'SSL_write').map(r => r.ret)).toEqual([Buffer.byteLength(server.request())]);
  expect(of(mine, 'SSL_read').filter(r => r.ret > 0).reduce((a, r) => a + r.ret, 0)).toBe(RESPONSE.length);
  const serverRows = rows(serverOnly.stdout());
  expect(serverRows.length).toBeGreaterThan(0);
  expect(serverRows.every(r => r.tid === server.child.pid)).toBe(true);
  expect(of(serverRows, 'SSL_do_handshake').map(r => r.ret)).toEqual([1]);
  const records = json.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(r => r.tid === curl.pid);
  expect(records.filter(r => r.func === 'SSL_do_handshake' && r.ret === 1)).toHaveLength(1);
  for (const r of records) expect(r).toMatchObject({ tool: 'sslsnoop', kind: 'event', comm: 'curl', lat_us: expect.any(Number) });
  expect(t.stderr()).toMatch(/^sslsnoop: not exported by this OpenSSL, so not traced: rsa_ossl_public_encrypt, [^\n]+\n$/);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('sslsnoop', [['--bogus'], ['-p', 'x'], ['-p', '999999999'], ['extra']]);
});
