// exitsnoop on the real kernel: a process exiting with code 3 and one killed by a signal.
import { spawnSync } from 'node:child_process';
import { runTool, sleep, startReference, startTool } from './helpers.js';

/** Runs `sh -c script` and returns the shell's PID (printed first). */
function sh(script: string): number {
  return Number(spawnSync('sh', ['-c', `echo $$; ${script}`], { encoding: 'utf8' }).stdout.split('\n')[0]);
}

test('reports exit code 3 and SIGKILL with PID, PPID and age; Ctrl-C exits 0', async () => {
  const t = startTool('exitsnoop', []);
  await t.waitFor(/PCOMM/);
  const code3 = sh('sleep 0.1; exit 3');
  const killed = sh('kill -9 $$');
  const m3 = await t.waitFor(new RegExp(`^sh +${code3} +(\\d+) +${code3} +(\\d+\\.\\d\\d) +code 3$`, 'm'));
  expect(Number(m3[1])).toBe(process.pid); // the test spawned it
  expect(Number(m3[2])).toBeGreaterThanOrEqual(0.1);
  await t.waitFor(new RegExp(`^sh +${killed} +${process.pid} +${killed} +[\\d.]+ +signal 9 \\(KILL\\)$`, 'm'));
  expect(t.stdout().split('\n')[0]).toBe('PCOMM            PID    PPID   TID    AGE(s)  EXIT_CODE ');
  expect(await t.stop()).toBe(0);
});

test('-x shows only failures; -p filters; --json has structured fields', async () => {
  const failed = startTool('exitsnoop', ['-x']);
  const json = startTool('exitsnoop', ['--json']);
  await failed.waitFor(/PCOMM/);
  await sleep(1500); // JSON mode prints no header: let it attach
  const ok = sh('exit 0');
  const bad = sh('exit 7');
  const m = await json.waitFor(new RegExp(`^\\{.*"pid":${bad},.*\\}$`, 'm'));
  expect(JSON.parse(m[0])).toMatchObject({ comm: 'sh', pid: bad, ppid: process.pid, exit_code: 7, signal: null, text: 'code 7' });
  await failed.waitFor(new RegExp(`^sh +${bad} .* code 7$`, 'm'));
  await Promise.all([failed.stop(), json.stop()]);
  expect(failed.stdout()).not.toMatch(new RegExp(`^sh +${ok} `, 'm'));
  expect(json.stdout()).toContain(`"pid":${ok},`);
});

test('conformance: libbpf-tools exitsnoop sees the same exits and codes', async () => {
  const ours = startTool('exitsnoop', []);
  const ref = startReference('exitsnoop', []);
  await Promise.all([ours.waitFor(/PCOMM/), ref.waitFor(/PCOMM/)]);
  const pids = [sh('exit 3'), sh('exit 0'), sh('kill -9 $$')];
  const last = pids[pids.length - 1];
  await Promise.all([ours.waitFor(new RegExp(`^sh +${last} `, 'm')), ref.waitFor(new RegExp(`^sh +${last} `, 'm'))]);
  await Promise.all([ours.stop(), ref.stop()]);
  const codes = (out: string) => pids.map(pid => new RegExp(`^sh +${pid} +\\d+ +\\d+ +[\\d.]+ +(.*?) *$`, 'm').exec(out)?.[1]);
  expect(codes(ours.stdout())).toEqual(['code 3', '0', 'signal 9 (KILL)']);
  // libbpf-tools words the signal with strsignal(): same exits and codes
  expect(codes(ref.stdout())).toEqual(['code 3', '0', 'signal 9 (Killed)']);
});

test('bad input: one line and exit 2', () => {
  for (const args of [['--bogus'], ['-p', 'x'], ['-p', '0'], ['extra']]) {
    const r = runTool('exitsnoop', args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^exitsnoop: /);
  }
});
