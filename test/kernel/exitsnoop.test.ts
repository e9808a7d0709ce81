// exitsnoop on the real kernel: processes exiting with code 3, killed by SIGKILL and SIGTERM, dumping
// core on SIGSEGV; filters; BCC's -p behaviour; a conformance run beside libbpf-tools' exitsnoop.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { attached, bpfFdsOf, expectRefusedUnprivileged, expectUsageErrors, startReference, startTool, tmpDir, unloaded, waitUntil } from './helpers.js';

/** Runs `sh -c script` and returns the shell's PID (printed first). */
function sh(script: string, cwd?: string): number {
  return Number(spawnSync('sh', ['-c', `echo $$; ${script}`], { encoding: 'utf8', cwd }).stdout.split('\n')[0]);
}

/** One line of the default output: PCOMM PID PPID TID AGE(s) EXIT_CODE. */
const line = (pid: number, code: string) => new RegExp(`^sh +${pid} +(\\d+) +${pid} +(\\d+\\.\\d\\d) +${code}$`, 'm');

test('exit code 3, SIGKILL, SIGTERM and a core dump with PID, PPID and age; Ctrl-C exits 0, unloaded', async () => {
  const t = startTool('exitsnoop', []);
  await t.waitFor(/PCOMM/);
  const progs = bpfFdsOf(t.child.pid!).programs;
  expect(progs.length).toBe(1);
  const dir = tmpDir();
  const spawned = performance.now();
  const code3 = sh('sleep 0.1; exit 3');
  const lived = (performance.now() - spawned) / 1000; // the shell's whole life is inside this
  const killed = sh('kill -KILL $$');
  const termed = sh('kill -TERM $$');
  const dumped = sh('ulimit -c unlimited; kill -SEGV $$', dir);
  const m3 = await t.waitFor(line(code3, 'code 3'));
  expect(Number(m3[1])).toBe(process.pid); // the test spawned it
  expect(Number(m3[2])).toBeGreaterThanOrEqual(0.1);
  expect(Number(m3[2])).toBeLessThanOrEqual(Math.ceil(lived * 100) / 100); // AGE(s) is printed to 0.01 s
  expect(Number((await t.waitFor(line(killed, 'signal 9 \\(KILL\\)')))[1])).toBe(process.pid);
  await t.waitFor(line(termed, 'signal 15 \\(TERM\\)'));
  // a core file is written only where core_pattern is a plain file name (here: "core")
  const cores = !fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').startsWith('|');
  await t.waitFor(line(dumped, `signal 11 \\(SEGV\\)${cores ? ', core dumped ' : ''}`));
  fs.rmSync(dir, { recursive: true, force: true });
  // BCC's header, columns %-16s %-7s %-7s %-7s %-7s %-10s
  expect(t.stdout().split('\n')[0]).toBe('PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE ');
  expect(await t.stop()).toBe(0);
  await unloaded(progs);
});

test('-x shows only failures; --json has structured fields; -t --label add columns', async () => {
  const failed = startTool('exitsnoop', ['-x']);
  const json = startTool('exitsnoop', ['--json']);
  const labelled = startTool('exitsnoop', ['-t', '--utc', '--label=']);
  await Promise.all([failed.waitFor(/PCOMM/), labelled.waitFor(/PCOMM/)]);
  await attached(json); // JSON mode prints no header
  const ok = sh('exit 0');
  const bad = sh('exit 7');
  const m = await json.waitFor(new RegExp(`^\\{.*"pid":${bad},.*\\}$`, 'm'));
  expect(JSON.parse(m[0])).toMatchObject({ comm: 'sh', pid: bad, ppid: process.pid, tid: bad, exit_code: 7, signal: null, core_dumped: false, text: 'code 7' });
  await failed.waitFor(new RegExp(`^sh +${bad} .* code 7$`, 'm'));
  await labelled.waitFor(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} exit  sh +${bad} +${process.pid} +${bad} +[\\d.]+ +code 7$`, 'm'));
  await Promise.all([failed.stop(), json.stop(), labelled.stop()]);
  expect(failed.stdout()).not.toMatch(new RegExp(`^sh +${ok} `, 'm'));
  expect(json.stdout()).toContain(`"pid":${ok},`);
  expect(labelled.stdout().split('\n')[0]).toBe('TIME-UTC     LABEL PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE ');
});

test('-p PID: only that process, and (as BCC) the tool ends once it has exited', async () => {
  // a shell that waits for a line on stdin, then exits 5; a thread-free process, so one event
  const target = spawn('sh', ['-c', 'read x; exit 5'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const t = startTool('exitsnoop', ['-p', String(target.pid)]);
  await t.waitFor(/PCOMM/);
  sh('exit 4'); // someone else
  target.stdin!.end('go\n');
  await t.waitFor(line(target.pid!, 'code 5'));
  expect(await t.exited).toBe(0);
  expect(t.stdout()).not.toMatch(/ code 4$/m);
});

test('-t names the zone as strftime %Z does (TIME-IST, not TIME-GMT+5:30), the columns apart', async () => {
  const expected: Record<string, string[]> = { 'Asia/Kolkata': ['IST'], UTC: ['UTC'], 'America/New_York': ['EST', 'EDT'] };
  for (const [tz, names] of Object.entries(expected)) {
    // a second source: date(1) formats %Z with glibc, from the same zone data
    const zone = spawnSync('date', ['+%Z'], { encoding: 'utf8', env: { ...process.env, TZ: tz } }).stdout.trim();
    expect(names).toContain(zone);
    const t = startTool('exitsnoop', ['-t'], { TZ: tz });
    await t.waitFor(/PCOMM/);
    const pid = sh('exit 2');
    await t.waitFor(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} +sh +${pid} .* code 2$`, 'm'));
    expect(await t.stop()).toBe(0);
    expect(t.stdout().split('\n')[0]).toBe(`${`TIME-${zone}`.padEnd(13)}PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE `);
  }
});

test('-p: a process that has already exited (a zombie: no exit event to come) ends the tool at once, exit 0', async () => {
  // `sleep 0.1` is the child of a process that execs into `sleep 5` and never reaps it
  const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zombie = Number(await new Promise<string>(resolve => parent.stdout!.once('data', d => resolve(String(d)))));
  await waitUntil(() => /\) Z /.test(fs.readFileSync(`/proc/${zombie}/stat`, 'utf8')), `${zombie} to be a zombie`);
  const t = startTool('exitsnoop', ['-p', String(zombie)]);
  expect(await t.exited).toBe(0);
  expect(t.stderr()).toBe('');
  expect(t.stdout()).toBe('PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE \n');
  parent.kill();
});

test('conformance: libbpf-tools exitsnoop sees the same exits and codes', async () => {
  // Both run side by side over the same three exits; libbpf-tools words signals with strsignal().
  const ours = startTool('exitsnoop', []);
  const ref = startReference('exitsnoop', []);
  await Promise.all([ours.waitFor(/PCOMM/), ref.waitFor(/PCOMM/)]);
  const pids = [sh('exit 3'), sh('exit 0'), sh('kill -9 $$')];
  const last = pids[pids.length - 1];
  await Promise.all([ours.waitFor(new RegExp(`^sh +${last} `, 'm')), ref.waitFor(new RegExp(`^sh +${last} `, 'm'))]);
  await Promise.all([ours.stop(), ref.stop()]);
  const seen = (out: string) => pids.map(pid => new RegExp(`^sh +${pid} +(\\d+) +(\\d+) +[\\d.]+ +(.*?) *$`, 'm').exec(out)?.slice(1));
  const p = String(process.pid);
  expect(seen(ours.stdout())).toEqual([[p, String(pids[0]), 'code 3'], [p, String(pids[1]), '0'], [p, String(pids[2]), 'signal 9 (KILL)']]);
  expect(seen(ref.stdout())).toEqual([[p, String(pids[0]), 'code 3'], [p, String(pids[1]), '0'], [p, String(pids[2]), 'signal 9 (Killed)']]);
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('exitsnoop', [['--bogus'], ['-p', 'x'], ['-p', '0'], ['-p', '-5'], ['extra']]);
  expectRefusedUnprivileged('exitsnoop');
});
