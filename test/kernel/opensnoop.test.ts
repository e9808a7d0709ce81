// opensnoop on the real kernel: a marker process opens a file that exists and one that does not.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, bpfFdsOf, expectUsageErrors, sleep, startReference, startTool, tmpDir, unloaded } from './helpers.js';

const dir = tmpDir();
const existing = path.join(dir, 'bpfkit-open-marker.txt');
const missing = path.join(dir, 'bpfkit-missing-marker.txt');
fs.writeFileSync(existing, 'x');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `cat` both markers (one fails); returns cat's PID. */
function opens(): number {
  const r = spawnSync('sh', ['-c', `echo $$; exec cat ${existing} ${missing}`], { encoding: 'utf8' });
  return Number(r.stdout.split('\n')[0]);
}

test('reports the open with PID, COMM, FD and the failure with ERR 2; Ctrl-C exits 0', async () => {
  const t = startTool('opensnoop', []);
  await t.waitFor(/PATH/);
  const pid = opens();
  await t.waitFor(new RegExp(`^${pid} +cat +\\d+ +0 ${existing}$`, 'm'));
  await t.waitFor(new RegExp(`^${pid} +cat +-1 +2 ${missing}$`, 'm'));
  expect(t.stdout().split('\n')[0]).toBe('PID    COMM               FD ERR PATH');
  expect(await t.stop()).toBe(0);
});

test('Ctrl-C: the tracepoint links are handed to a reaper; once both have exited nothing is left loaded', async () => {
  const t = startTool('opensnoop', []);
  await attached(t);
  const { programs, links } = bpfFdsOf(t.child.pid!);
  expect(links).toBeGreaterThanOrEqual(6); // open, openat, openat2: enter and exit
  expect(await t.stop()).toBe(0);
  await unloaded(programs);
  // and the reaper (cat on a pipe the tool held) has gone with them
  const holders = fs.readdirSync('/proc').filter(p => /^\d+$/.test(p) && p !== String(process.pid)).filter(p => {
    try {
      return fs.readdirSync(`/proc/${p}/fd`).some(fd => fs.readlinkSync(`/proc/${p}/fd/${fd}`) === 'anon_inode:bpf_link'
        && fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'cat');
    } catch {
      return false;
    }
  });
  expect(holders).toEqual([]);
});

test('SIGKILL: the kernel releases everything', async () => {
  const t = startTool('opensnoop', []);
  await attached(t);
  const { programs } = bpfFdsOf(t.child.pid!);
  t.child.kill('SIGKILL');
  await t.exited;
  await unloaded(programs);
});

test('-x only failures, -p one process, -e flags, -f O_WRONLY writes, -d stops by itself', async () => {
  const failed = startTool('opensnoop', ['-x', '-n', 'cat']);
  const writes = startTool('opensnoop', ['-e', '-f', 'O_WRONLY', '-n', 'sh']);
  await Promise.all([failed.waitFor(/PATH/), writes.waitFor(/PATH/)]);
  const pid = opens();
  const shPid = Number(spawnSync('sh', ['-c', `echo $$; echo hi > ${path.join(dir, 'w.txt')}`], { encoding: 'utf8' }).stdout.split('\n')[0]);
  await failed.waitFor(new RegExp(`^${pid} +cat +-1 +2 ${missing}$`, 'm'));
  const w = await writes.waitFor(new RegExp(`^${shPid} +sh +\\d+ +0 (\\d{8}) ${path.join(dir, 'w.txt')}$`, 'm'));
  expect(parseInt(w[1], 8) & 0o1).toBe(1); // O_WRONLY
  await Promise.all([failed.stop(), writes.stop()]);
  expect(failed.stdout()).not.toContain(` 0 ${existing}`);

  // -p: a process started first, then traced alone
  const child = spawn('sh', ['-c', `read x; cat ${existing}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const one = startTool('opensnoop', ['-p', String(child.pid), '-d', '3']);
  await one.waitFor(/PATH/);
  opens(); // another process: not shown
  child.stdin!.end('\n');
  expect(await one.exited).toBe(0); // -d 3: exits by itself
  expect(one.stdout()).not.toContain(missing);
});

test('--json: event records (docs/json.md)', async () => {
  const t = startTool('opensnoop', ['--json', '-n', 'cat']);
  await attached(t); // JSON mode prints no header
  const pid = opens();
  const m = await t.waitFor(new RegExp(`^\\{.*"path":"${missing}".*\\}$`, 'm'));
  const e = JSON.parse(m[0]);
  expect(e).toMatchObject({ tool: 'opensnoop', kind: 'event', pid, comm: 'cat', fd: -1, err: 2, path: missing });
  expect(validateRecord(e)).toEqual([]);
  await t.stop();
});

test('conformance: libbpf-tools opensnoop sees the same opens of the marker process', async () => {
  const ours = startTool('opensnoop', ['-n', 'cat']);
  const ref = startReference('opensnoop', ['-n', 'cat']);
  await Promise.all([ours.waitFor(/PATH/), ref.waitFor(/PATH/)]);
  const pid = opens();
  await Promise.all([ours.waitFor(new RegExp(missing)), ref.waitFor(new RegExp(missing))]);
  await sleep(100);
  await Promise.all([ours.stop(), ref.stop()]);
  const seen = (out: string) => out.split('\n').filter(l => new RegExp(`^${pid} `).test(l))
    .map(l => l.split(/ +/)).map(f => `${f[2]} ${f[3]} ${f[f.length - 1]}`);
  const a = seen(ours.stdout());
  expect(a).toContain(`-1 2 ${missing}`);
  expect(a).toEqual(seen(ref.stdout()));
});

test('-f O_WRONLY -f O_RDWR: both flags count (BCC ORs them): opens for writing and for read-write, not read-only', async () => {
  const [w, rw, r] = ['w', 'rw', 'r'].map(m => path.join(dir, `flags-${m}.txt`));
  fs.writeFileSync(r, 'x'); // before tracing: this write is not the one asserted on
  const t = startTool('opensnoop', ['-e', '-f', 'O_WRONLY', '-f', 'O_RDWR', '-n', 'node']);
  await t.waitFor(/PATH/);
  // one process opens each file once, in the mode its name says
  const script = `const fs = require('fs'); for (const [f, m] of [['${w}', 'w'], ['${rw}', 'w+'], ['${r}', 'r']]) fs.closeSync(fs.openSync(f, m)); console.log(process.pid);`;
  const pid = Number(spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout.trim());
  const wm = await t.waitFor(new RegExp(`^${pid} +node\\S* +\\d+ +0 (\\d{8}) ${w}$`, 'm'));
  const rwm = await t.waitFor(new RegExp(`^${pid} +node\\S* +\\d+ +0 (\\d{8}) ${rw}$`, 'm'));
  expect(parseInt(wm[1]!, 8) & 3).toBe(1); // O_WRONLY
  expect(parseInt(rwm[1]!, 8) & 3).toBe(2); // O_RDWR
  await sleep(300);
  expect(await t.stop()).toBe(0);
  expect(t.stdout()).not.toContain(r + '\n');
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('opensnoop', [['--bogus'], ['-p', 'abc'], ['-f', 'O_NOPE'], ['-d', '-1'], ['extra']]);
});
