// sslsniff on the real kernel: curl fetches a page over TLS (OpenSSL's SSL_write/SSL_read) from a Python
// server on loopback (tls-server.ts: OpenSSL's SSL_read_ex/SSL_write_ex), with a self-signed certificate.
// The plaintext both ends report (the request the server received, the response curl printed) is what the
// tool shows each side write and read; -c, -p --hexdump and --json.
import { spawnSync } from 'node:child_process';
import { attached, expectUsageErrors, startTool, waitUntil, type Running } from './helpers.js';
import { startTlsServer } from './tls-server.js';

const PORT = 9021;
const RESPONSE = 'HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\nhello bpfkit\n';

interface Block { func: string; comm: string; pid: number; len: number; data: string }

/** The text output's events: the header line of each, and its data between the DATA marks. */
function blocks(text: string): Block[] {
  const re = /^(READ\/RECV|WRITE\/SEND|HANDSHAKE) +[\d.]+ +(\S+) +(\d+) +(\d+)[^\n]*\n(?:----- DATA -----\n([\s\S]*?)\n----- END DATA[^\n]*\n)?/gm;
  return [...text.matchAll(re)].map(m => ({ func: m[1], comm: m[2], pid: Number(m[3]), len: Number(m[4]), data: m[5] ?? '' }));
}

test('curl\'s request and the server\'s response, as each side wrote and read them', async () => {
  const server = await startTlsServer(PORT, RESPONSE);
  const t = startTool('sslsniff', ['-x']);
  const curlOnly = startTool('sslsniff', ['-c', 'curl', '--json']);
  const serverHex = startTool('sslsniff', ['-p', String(server.child.pid), '--hexdump']);
  await t.waitFor(/^FUNC +TIME\(s\) +COMM +PID +LEN +UID +TID *$/m);
  await Promise.all([curlOnly, serverHex].map(attached));
  const curl = spawnSync('curl', ['-sk', `https://127.0.0.1:${PORT}/bpfkit-test`], { encoding: 'utf8', timeout: 20000 });
  expect(curl.stdout).toBe('hello bpfkit\n');
  expect(await server.exited).toBe(0);
  const request = server.request();
  expect(request).toMatch(/^GET \/bpfkit-test HTTP\/1\.1\r\n/);
  const of = (r: Running, comm: string, func: string) => blocks(r.stdout()).filter(b => b.comm === comm && b.func === func);
  await waitUntil(() => of(t, 'curl', 'READ/RECV').length >= 1 && of(t, 'python3', 'WRITE/SEND').length >= 1 &&
    curlOnly.stdout().includes('READ/RECV') && of(serverHex, 'python3', 'WRITE/SEND').length >= 1, 'both sides reported');
  await Promise.all([t.stop(), curlOnly.stop(), serverHex.stop()]);
  // text: the data lines are the plaintext (print() turns \r\n into lines as they are)
  expect(of(t, 'curl', 'WRITE/SEND')).toEqual([expect.objectContaining({ len: Buffer.byteLength(request), data: request })]);
  expect(of(t, 'python3', 'READ/RECV').map(b => b.data).join('')).toBe(request);
  expect(of(t, 'python3', 'WRITE/SEND')).toEqual([expect.objectContaining({ len: RESPONSE.length, data: RESPONSE })]);
  expect(of(t, 'curl', 'READ/RECV').map(b => b.data).join('')).toBe(RESPONSE);
  // -c curl: only curl's calls; --json carries the data
  const events = curlOnly.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l));
  expect(new Set(events.map(e => e.comm))).toEqual(new Set(['curl']));
  expect(events.filter(e => e.func === 'WRITE/SEND').map(e => e.data)).toEqual([request]);
  // -p the server, --hexdump: its write in hex, 32 digits a line
  const [hexWrite] = of(serverHex, 'python3', 'WRITE/SEND');
  expect(hexWrite.data.split('\n').every(l => /^[0-9a-f]{1,32}$/.test(l))).toBe(true);
  expect(Buffer.from(hexWrite.data.replace(/\n/g, ''), 'hex').toString()).toBe(RESPONSE);
  expect(blocks(serverHex.stdout()).every(b => b.pid === server.child.pid)).toBe(true);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('sslsniff', [['--bogus'], ['-o', '-g', '-n'], ['--max-buffer-size', '0'], ['--max-buffer-size', '100000'], ['-p', 'x'], ['extra']]);
});
