// execsnoop on the real kernel: exec a marker command, assert what the tool reports, compare with
// libbpf-tools' execsnoop on the same workload, and check bad input.
import { spawnSync } from 'node:child_process';
import { attached, expectRefusedUnprivileged, expectUsageErrors, sleep, startReference, startTool } from './helpers.js';

/** Runs `sh -c 'exec /bin/echo <marker> a b'` and returns the sh PID (exec keeps the PID). */
function execMarker(marker: string): number {
  const r = spawnSync('sh', ['-c', `echo $$; exec /bin/echo ${marker} alpha "beta gamma"`], { encoding: 'utf8' });
  return Number(r.stdout.split('\n')[0]);
}

test('reports a marker exec with PID, PPID, RET and full argv; Ctrl-C exits 0', async () => {
  const t = startTool('execsnoop', ['-T', '-U']);
  await t.waitFor(/PCOMM/);
  const marker = `bpfkit_marker_${process.pid}`;
  const pid = execMarker(marker);
  const m = await t.waitFor(new RegExp(`^(\\d\\d:\\d\\d:\\d\\d) +(\\d+) +echo +${pid} +(\\d+) +0 /bin/echo ${marker} alpha beta gamma$`, 'm'));
  expect(Number(m[2])).toBe(0); // UID column: root
  expect(Number(m[3])).toBeGreaterThan(1); // the shell's parent (this test's spawnSync child chain)
  expect(t.stdout().split('\n')[0]).toMatch(/^TIME {5}UID {4}PCOMM {12}PID {5}PPID {4}RET ARGS$/);
  expect(await t.stop()).toBe(0);
});

test('a newline inside an argument prints as \\n (BCC), so the exec stays one row; --json keeps it raw', async () => {
  const t = startTool('execsnoop', []);
  const json = startTool('execsnoop', ['--json']);
  await Promise.all([t.waitFor(/PCOMM/), sleep(1500)]);
  const marker = `nl_marker_${process.pid}`;
  const r = spawnSync('sh', ['-c', `echo $$; exec /bin/echo ${marker} "one\ntwo"`], { encoding: 'utf8' });
  const pid = Number(r.stdout.split('\n')[0]);
  await t.waitFor(new RegExp(`^echo +${pid} +\\d+ +0 /bin/echo ${marker} one\\\\ntwo$`, 'm'));
  const m = await json.waitFor(new RegExp(`^\\{.*"pid":${pid},.*"/bin/echo".*\\}$`, 'm')); // the echo, not the sh before the exec
  expect(JSON.parse(m[0]).args).toEqual(['/bin/echo', marker, 'one\ntwo']);
  await Promise.all([t.stop(), json.stop()]);
  expect(t.stdout().split('\n').filter(l => l.startsWith('two'))).toEqual([]);
});

test('-x includes failed execs with their error; default hides them', async () => {
  const withFails = startTool('execsnoop', ['-x']);
  const plain = startTool('execsnoop', []);
  await Promise.all([withFails.waitFor(/PCOMM/), plain.waitFor(/PCOMM/)]);
  const missing = `/nonexistent/bpfkit_missing_${process.pid}`;
  spawnSync('sh', ['-c', `exec ${missing} x`]);
  execMarker('after_failure'); // something both must see, to know they are caught up
  await withFails.waitFor(new RegExp(` -2 ${missing} x$`, 'm'));
  await plain.waitFor(/after_failure/);
  await withFails.waitFor(/after_failure/);
  expect(plain.stdout()).not.toMatch(/ -2 \/nonexistent/);
  expect(await withFails.stop()).toBe(0);
  expect(await plain.stop()).toBe(0);
});

test('--json prints one object per exec; -q quotes; -n and -l filter', async () => {
  const t = startTool('execsnoop', ['--json', '-l', 'jsonmark']);
  await attached(t); // JSON mode prints no header
  const pid = execMarker('jsonmark');
  execMarker('othermark');
  const m = await t.waitFor(/^\{.*"jsonmark".*\}$/m);
  const e = JSON.parse(m[0]);
  expect(e).toMatchObject({ tool: 'execsnoop', kind: 'event', pid, comm: 'echo', ret: 0, args: ['/bin/echo', 'jsonmark', 'alpha', 'beta gamma'] });
  await t.stop();
  expect(t.stdout()).not.toContain('othermark');

  const q = startTool('execsnoop', ['-q', '-n', '^echo$']);
  await q.waitFor(/PCOMM/);
  execMarker('quoted');
  spawnSync('true');
  await q.waitFor(/"\/bin\/echo" "quoted" "alpha" "beta gamma"/);
  await q.stop();
  expect(q.stdout()).not.toMatch(/^true /m);
});

test('--max-args truncates like BCC', async () => {
  const t = startTool('execsnoop', ['--max-args', '2']);
  await t.waitFor(/PCOMM/);
  execMarker('truncmark');
  await t.waitFor(/ \/bin\/echo truncmark \.\.\.$/m);
  await t.stop();
});

test('conformance: sees the same execs as libbpf-tools execsnoop', async () => {
  const ours = startTool('execsnoop', []);
  const ref = startReference('execsnoop');
  await Promise.all([ours.waitFor(/PCOMM/), ref.waitFor(/PCOMM/)]);
  const pids: number[] = [];
  for (let i = 0; i < 5; i++) pids.push(execMarker(`conf_${i}`));
  await ours.waitFor(/conf_4/);
  await ref.waitFor(/conf_4/);
  await sleep(200);
  await Promise.all([ours.stop(), ref.stop()]);
  const seen = (out: string) => pids.map(pid => new RegExp(`^echo +${pid} +\\d+ +0 /bin/echo conf_\\d alpha beta gamma`, 'm').test(out));
  expect(seen(ours.stdout())).toEqual([true, true, true, true, true]);
  expect(seen(ref.stdout())).toEqual([true, true, true, true, true]);
});

test('on a kernel without ring buffers the same tool runs over a perf buffer', async () => {
  const t = startTool('execsnoop', [], { BPFKIT_NO_RINGBUF: '1' });
  await t.waitFor(/PCOMM/);
  const pid = execMarker('perfmark');
  await t.waitFor(new RegExp(`^echo +${pid} +\\d+ +0 /bin/echo perfmark alpha beta gamma$`, 'm'));
  expect(await t.stop()).toBe(0);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('execsnoop', [['--bogus'], ['-P', 'abc'], ['-P', '-5'], ['extra'], ['--max-args', 'x'], ['-n', '(']]);
});

test('unprivileged: says root or CAP_BPF+CAP_PERFMON is needed', () => {
  expectRefusedUnprivileged('execsnoop');
});
