// undump on the real kernel: a Python process sends a known string over a Unix stream socket pair and
// as a datagram over a Unix datagram pair, and receives both: two lines by its PID with the string's
// size and the string itself; a TCP session's data is not shown. The substitute is named.
import { spawn } from 'node:child_process';
import { expectUsageErrors, startTool, waitUntil } from './helpers.js';
import { jsonRecords, peerScript } from './soconn-work.js';

const TEXT = 'bpfkit undump known text 1234';

async function unixSends(text: string) {
  const child = spawn('python3', [peerScript, 'unix', text], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', d => (out += d));
  await new Promise(resolve => child.on('close', resolve));
  expect(out).toContain(`received ${text.length} ${text.length}`);
  return Number(/^pid (\d+)$/m.exec(out)![1]);
}

test('a known string received over a Unix stream and a datagram socket: size and data by the receiver', async () => {
  const t = startTool('undump', []);
  const j = startTool('undump', ['--json']);
  await t.waitFor(/^TIME +COMM +PID +SIZE +DATA$/m);
  await waitUntil(() => j.stderr().includes('Ctrl-C to end'), 'the JSON run attached');
  const pid = await unixSends(TEXT);
  const rows = () => t.stdout().split('\n').filter(l => / python3 +\d+ /.test(l) && l.split(/ +/)[2] === String(pid));
  const events = () => jsonRecords(j.stdout()).filter(e => e.pid === pid);
  await waitUntil(() => rows().length >= 2 && events().length >= 2, 'the two receives');
  expect(await t.stop()).toBe(0);
  expect(await j.stop()).toBe(0);
  expect(rows().map(l => l.split(/ +/).slice(1).join(' '))).toEqual(Array(2).fill(`python3 ${pid} ${TEXT.length} ${TEXT}`));
  expect(events().map(e => [e.comm, e.size, e.data])).toEqual(Array(2).fill(['python3', TEXT.length, TEXT]));
  expect(t.stderr()).toBe('undump: no kprobes here: the data of AF_UNIX sk_buffs at skb:skb_copy_datagram_iovec\n');
});

test('-p filters; bytes that are not printable are escaped', async () => {
  const byPid = startTool('undump', ['-p', String(process.pid)]);
  const all = startTool('undump', ['-c', 'python']);
  await byPid.waitFor(/^TIME/m);
  await all.waitFor(/^TIME/m);
  const pid = await unixSends('tab\there');
  await waitUntil(() => all.stdout().includes(` ${pid} `), 'the receives');
  await Promise.all([byPid.stop(), all.stop()]);
  const mine = all.stdout().split('\n').map(l => l.split(/ +/)).filter(f => f[2] === String(pid));
  expect(mine.map(f => f.slice(1))).toEqual(Array(2).fill(['python3', String(pid), '8', 'tab\\x09here']));
  expect(byPid.stdout()).not.toContain('tab\\x09here');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('undump', [['--bogus'], ['-p', 'x'], ['-d', 'x'], ['extra']]);
});
