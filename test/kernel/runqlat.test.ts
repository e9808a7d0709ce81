// runqlat on the real kernel: CPU hogs (more runnable tasks than CPUs) must show run-queue latency.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bpfFdsOf, expectRefusedUnprivileged, expectUsageErrors, root, runTool, startReference, startTool, tmpDir, unloaded, waitUntil } from './helpers.js';

/**
 * Busy shells, twice as many as CPUs, so they wait on the run queue for each other; at the tools'
 * own nice level (at nice 19, other busy work at nice 0 can keep one off the CPU for seconds).
 * `wrap` runs each under another command (unshare). A test stops them; afterEach if it failed.
 */
const live: ChildProcess[] = [];
function hog(wrap: string[] = []): ChildProcess[] {
  const [cmd, ...args] = [...wrap, 'sh', '-c', 'while :; do :; done'];
  const hogs = Array.from({ length: os.cpus().length * 2 }, () => spawn(cmd, args, { stdio: 'ignore' }));
  live.push(...hogs);
  return hogs;
}
const stop = (hogs: ChildProcess[]) => hogs.forEach(h => h.kill('SIGKILL'));
afterEach(() => stop(live.splice(0)));

/** Times a task was switched in (/proc/PID/schedstat): after a preemption or a wakeup, each is a latency runqlat records. */
const switchIns = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[2]);

/** Waits until each task was switched in `n` more times than now, however long this machine takes. */
function switchedIn(pids: number[], n: number): Promise<void> {
  const from = pids.map(switchIns);
  return waitUntil(() => pids.every((pid, i) => switchIns(pid) >= from[i] + n), `${n} switch-ins of each of ${pids.join(', ')}`);
}

const rows = (text: string) => [...text.matchAll(/^ *(\d+) -> (\d+) +: (\d+) +\|[*+ ]*\|$/gm)].map(m => ({ low: +m[1], high: +m[2], count: +m[3] }));
const total = (text: string) => rows(text).reduce((a, r) => a + r.count, 0);

/** The sections of -P/-L/--pidnss output: "pid = 123" followed by its histogram. */
function sections(text: string, header: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const part of text.split(new RegExp(`^${header} = `, 'm')).slice(1)) out.set(parseInt(part, 10), total(part));
  return out;
}

test('interval mode: 1 1 prints one BCC histogram of a CPU hog and exits 0', () => {
  const hogs = hog();
  const r = runTool('runqlat', ['1', '1']);
  stop(hogs);
  expect(r.code).toBe(0);
  expect(r.stdout.split('\n').slice(0, 3)).toEqual(['Tracing run queue latency... Hit Ctrl-C to end.', '', '     usecs               : count     distribution']);
  expect(total(r.stdout)).toBeGreaterThan(50);
  expect(rows(r.stdout)[0]).toEqual(expect.objectContaining({ low: 0, high: 1 }));
  // hogs sharing CPUs wait whole time slices: some latencies are in the milliseconds
  expect(rows(r.stdout).some(x => x.low >= 1024 && x.count > 0)).toBe(true);
});

test('-P -m -T: a section per process including the hogs, msecs, a time line; Ctrl-C prints, exits 0, unloads', async () => {
  const hogs = hog();
  const t = startTool('runqlat', ['-P', '-m', '-T']);
  await t.waitFor(/Hit Ctrl-C/);
  const progs = bpfFdsOf(t.child.pid!).programs;
  expect(progs.length).toBe(3); // sched_wakeup, sched_wakeup_new, sched_switch
  await switchedIn(hogs.map(h => h.pid!), 2);
  expect(await t.stop()).toBe(0);
  stop(hogs);
  const out = t.stdout();
  expect(out.split('\n').slice(0, 3)).toEqual(['Tracing run queue latency... Hit Ctrl-C to end.', '', expect.stringMatching(/^\d\d:\d\d:\d\d$/)]);
  expect(out).toContain('\npid = ');
  expect(out).toContain('     msecs               : count     distribution');
  // BCC's section line is "pid = <tgid>"; every hog was preempted while we traced
  const byPid = sections(out, 'pid');
  for (const h of hogs) expect(byPid.get(h.pid!)).toBeGreaterThan(0);
  await unloaded(progs);
});

test('-L sections per thread; --pidnss separates a hog in its own PID namespace', () => {
  const hogs = hog(['unshare', '--pid', '--fork', '--kill-child']);
  // unshare forks the shell into the new namespace: the hog is unshare's child
  const inner = hogs.map(h => {
    for (let i = 0; i < 100; i++) {
      const kids = fs.readFileSync(`/proc/${h.pid}/task/${h.pid}/children`, 'utf8').trim();
      if (kids) return Number(kids.split(' ')[0]);
      spawnSync('sleep', ['0.01']);
    }
    throw new Error('unshare did not fork');
  });
  const ns = Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${inner[0]}/ns/pid`))![1]);
  expect(ns).not.toBe(Number(/\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))![1]));
  const byNs = runTool('runqlat', ['--pidnss', '1', '1']);
  const byTid = runTool('runqlat', ['-L', '1', '1']);
  stop(hogs); // --kill-child: the shells go with their unshare
  for (const pid of inner) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  expect(byNs.code).toBe(0);
  expect(sections(byNs.stdout, 'pidns').get(ns)).toBeGreaterThan(0);
  expect(byTid.code).toBe(0);
  expect(sections(byTid.stdout, 'tid').get(inner[0])).toBeGreaterThan(0);
});

test('-p filters one process; --json prints histogram objects', () => {
  const hogs = hog();
  const target = hogs[0].pid!;
  const r = runTool('runqlat', ['-p', String(target), '--json', '1', '1']);
  const sectioned = runTool('runqlat', ['-p', String(target), '-P', '--json', '1', '1']);
  stop(hogs);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('Tracing run queue latency... Hit Ctrl-C to end.\n'); // stdout stays JSON
  const obj = JSON.parse(r.stdout.trim());
  expect(obj).toMatchObject({ tool: 'runqlat', kind: 'histogram', val_type: 'usecs', scale: 'log2' });
  expect(obj.total).toBeGreaterThan(0);
  expect(obj.buckets[0]).toEqual({ start: 0, end: 1, count: expect.any(Number) });
  const sec = JSON.parse(sectioned.stdout.trim());
  expect(sec.section_by).toBe('pid');
  expect(sec.sections.map((s: { key: number }) => s.key)).toEqual([target]); // -p: nobody else
});

test('the tp_btf twins (taken where the kernel has module BTF) measure the same latencies', () => {
  // The tool's program loaded with its raw_tp programs disabled (here raw_tp is taken: lib/bpf.ts rank()), in a child process (the koffi
  // bindings are per process and Jest gives each test file fresh modules).
  const hogs = hog();
  const dir = tmpDir();
  const script = path.join(dir, 'raw.mts');
  fs.writeFileSync(script, `
    (globalThis as { __bpfkitCatalogue?: boolean }).__bpfkitCatalogue = true; // define the tool, don't run it
    const { BPF } = await import('${root}/lib/bpf.ts');
    const { definedTools } = await import('${root}/lib/cli/index.ts');
    await import('${root}/tools/cpu/runqlat.ts');
    const spec = definedTools().find(t => t.name === 'runqlat')!;
    const bpf = BPF.load({ text: spec.program, name: 'runqlat', rodata: { targ_per: 1 }, disable: ['wakeup_raw', 'wakeup_new_raw', 'switch_raw'] });
    bpf.attachAll();
    // until each hog was switched in twice more (a latency each), however long this machine takes
    const fs = await import('node:fs');
    const switchIns = (pid: number) => Number(fs.readFileSync(\`/proc/\${pid}/schedstat\`, 'utf8').split(' ')[2]);
    const pids = ${JSON.stringify(hogs.map(h => h.pid))};
    const from = pids.map(switchIns);
    while (!pids.every((pid: number, i: number) => switchIns(pid) >= from[i] + 2)) await new Promise(r => setTimeout(r, 20));
    const sections = bpf.histogram('dist_by').read(true).sections.map(s => ({ pid: s.key, n: s.slots.reduce((a, b) => a + b, 0) }));
    const loaded = [...bpf.programs.values()].filter(p => p.loaded).map(p => p.section).sort();
    bpf.close();
    console.log(JSON.stringify({ loaded, sections }));
  `);
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'bpfkit-node.mjs'), script], { encoding: 'utf8', timeout: 60000 });
  stop(hogs);
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`the script failed (${r.status}):\n${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { loaded: string[]; sections: { pid: number; n: number }[] };
  expect(res.loaded).toEqual(['tp_btf/sched_switch', 'tp_btf/sched_wakeup', 'tp_btf/sched_wakeup_new']);
  for (const h of hogs) expect(res.sections.find(s => s.pid === h.pid)?.n).toBeGreaterThan(0);
});

test('conformance: the same run-queue latencies as libbpf-tools runqlat (totals within 5 %)', async () => {
  // Both trace one process (-p): a busy shell that stops itself at once, is continued only when both
  // tools are attached, and is killed before either is stopped — so its whole runnable life is
  // inside both windows and both must count the same wakeups and preemptions. The other hogs
  // (not traced, at the same nice level) make it wait on the run queue.
  const others = hog();
  const target = spawn('sh', ['-c', 'kill -STOP $$; while :; do :; done'], { stdio: 'ignore' });
  const stopped = () => /^State:\s+T/m.test(fs.readFileSync(`/proc/${target.pid}/status`, 'utf8'));
  while (!stopped()) await new Promise(r => setTimeout(r, 10));
  const [ours, theirs] = [startTool('runqlat', ['-p', String(target.pid)]), startReference('runqlat', ['-p', String(target.pid)])];
  await Promise.all([ours.waitFor(/Hit Ctrl-C/), theirs.waitFor(/Hit Ctrl-C/)]);
  target.kill('SIGCONT');
  await switchedIn([target.pid!], 60); // each switch-in after SIGCONT is a latency both must count
  target.kill('SIGKILL');
  await new Promise(r => target.once('exit', r));
  const [codeOurs, codeTheirs] = await Promise.all([ours.stop(), theirs.stop()]);
  stop(others);
  expect(codeOurs).toBe(0);
  expect(codeTheirs).toBe(0);
  // libbpf-tools prints "count    distribution" and indexes slots from 0, but its rows cover the same
  // ranges ("0 -> 1", "2 -> 3", ...): compare row by row. Each tool reads the clock a few ns apart
  // from the other, so a latency on a bucket boundary may land one row over.
  const byRange = (text: string) => new Map([...text.matchAll(/^ *(\d+) -> (\d+) +: (\d+) +\|/gm)].map(m => [`${m[1]}-${m[2]}`, Number(m[3])]));
  const [a, b] = [byRange(ours.stdout()), byRange(theirs.stdout())];
  const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
  const moved = [...new Set([...a.keys(), ...b.keys()])].reduce((d, k) => d + Math.abs((a.get(k) ?? 0) - (b.get(k) ?? 0)), 0);
  console.log(`runqlat conformance: bpfkit ${sum(a)}, libbpf-tools ${sum(b)} latencies of one hog switched in 60 times; ${moved / 2} in another row`);
  expect(sum(a)).toBeGreaterThan(50);
  expect(Math.abs(sum(a) - sum(b))).toBeLessThanOrEqual(Math.max(2, 0.05 * sum(b)));
  expect(moved).toBeLessThanOrEqual(Math.max(4, 0.1 * sum(b)));
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('runqlat', [['--bogus'], ['-p', 'abc'], ['-1'], ['--', '-1'], ['1', '2', '3'], ['-P', '-L'], ['x'], ['1', '0']]);
  expectRefusedUnprivileged('runqlat');
});
