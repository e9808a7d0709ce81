// sofdsnoop on the real kernel: a Python process opens a known file and passes its fd over a Unix socket
// pair to its child (SCM_RIGHTS); both sides are shown with their own fd numbers and the file's path.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { expectUsageErrors, startTool, tmpDir, waitUntil } from './helpers.js';
import { jsonRecords, peerScript } from './soconn-work.js';

let dir: string;
beforeAll(() => {
  dir = tmpDir('bpfkit-sofd-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the fixture's passfd: the sender's PID and fd, the receiver's PID and fd. */
async function passFd(file: string) {
  fs.writeFileSync(file, 'passed\n');
  const child = spawn('python3', [peerScript, 'passfd', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', d => (out += d));
  await new Promise(resolve => child.on('close', resolve));
  const sender = /^pid (\d+)$/m.exec(out), sent = /^sent (\d+)$/m.exec(out), received = /^received (\d+) (\d+) (\S+)$/m.exec(out);
  if (!sender || !sent || !received) throw new Error(`passfd printed:\n${out}`);
  expect(received[3]).toBe(file);
  return { sender: Number(sender[1]), sentFd: Number(sent[1]), receiver: Number(received[1]), receivedFd: Number(received[2]) };
}

test('a passed fd: SEND by the sender with its fd, RECV by the receiver with its own, both naming the file', async () => {
  const t = startTool('sofdsnoop', []);
  const j = startTool('sofdsnoop', ['--json', '-T']);
  await t.waitFor(/^ACTION TID +COMM +SOCKET +FD +NAME$/m);
  await waitUntil(() => j.stderr().includes('Ctrl-C to end'), 'the JSON run attached');
  const file = path.join(dir, 'known.txt');
  const p = await passFd(file);
  const rows = () => t.stdout().split('\n').map(l => l.trim().split(/ +/)).filter(r => r[1] === String(p.sender) || r[1] === String(p.receiver));
  const events = () => jsonRecords(j.stdout()).filter(e => e.name === file);
  await waitUntil(() => rows().length >= 2 && events().length >= 2, 'both sides');
  expect(await t.stop()).toBe(0);
  expect(await j.stop()).toBe(0);
  expect(rows().map(r => [r[0], Number(r[1]), r[2], Number(r[4]), r[5]])).toEqual([
    ['SEND', p.sender, 'python3', p.sentFd, file],
    ['RECV', p.receiver, 'python3', p.receivedFd, file],
  ]);
  for (const r of rows()) expect(r[3]).toMatch(/^\d+:socket:\[\d+\]$/);
  expect(events().map(e => [e.action, e.pid, e.tid, e.fd])).toEqual([['SEND', p.sender, p.sender, p.sentFd], ['RECV', p.receiver, p.receiver, p.receivedFd]]);
  expect(t.stderr()).toBe('sofdsnoop: no kprobes here: reading SCM_RIGHTS from the msghdr at syscalls:sys_enter_sendmsg and sys_exit_recvmsg\n');
});

test('-p and -n filter', async () => {
  const byPid = startTool('sofdsnoop', ['-p', String(process.pid)]);
  const byName = startTool('sofdsnoop', ['-n', '^nosuchcomm']);
  const kept = startTool('sofdsnoop', ['-n', '^pyth']);
  for (const r of [byPid, byName, kept]) await r.waitFor(/^ACTION/m);
  const file = path.join(dir, 'filtered.txt');
  await passFd(file);
  await waitUntil(() => kept.stdout().split('\n').filter(l => l.endsWith(file)).length >= 2, 'the -n match');
  await Promise.all([byPid.stop(), byName.stop(), kept.stop()]);
  expect(byPid.stdout()).not.toContain(file);
  expect(byName.stdout()).not.toContain(file);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('sofdsnoop', [['--bogus'], ['-p', 'x'], ['-t', 'x'], ['-n', '('], ['-d', '0'], ['extra']]);
});
