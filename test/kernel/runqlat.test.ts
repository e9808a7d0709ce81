// runqlat on the real kernel: CPU hogs (more runnable tasks than CPUs) must show run-queue latency.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectRefusedUnprivileged, expectUsageErrors, loadedProgramIds, root, runTool, startReference, startTool, tmpDir } from './helpers.js';

/**
 * Busy shells, twice as many as CPUs, so they wait on the run queue for each other; at nice 19, so
 * the tools under test still get a CPU quickly. `wrap` runs each under another command (unshare).
 */
function hog(seconds: number, wrap: string[] = [], nice = 19): ChildProcess[] {
  const hogs = Array.from({ length: os.cpus().length * 2 }, () =>
    spawn('nice', ['-n', String(nice), ...wrap, 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
  setTimeout(() => stop(hogs), seconds * 1000).unref();
  return hogs;
}
const stop = (hogs: ChildProcess[]) => hogs.forEach(h => h.kill('SIGKILL'));

const rows = (text: string) => [...text.matchAll(/^ *(\d+) -> (\d+) +: (\d+) +\|[*+ ]*\|$/gm)].map(m => ({ low: +m[1], high: +m[2], count: +m[3] }));
const total = (text: string) => rows(text).reduce((a, r) => a + r.count, 0);

/** The sections of -P/-L/--pidnss output: "pid = 123" followed by its histogram. */
function sections(text: string, header: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const part of text.split(new RegExp(`^${header} = `, 'm')).slice(1)) out.set(parseInt(part, 10), total(part));
  return out;
}

test('interval mode: 1 1 prints one BCC histogram of a CPU hog and exits 0', () => {
  const hogs = hog(4);
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
  const hogs = hog(5);
  const t = startTool('runqlat', ['-P', '-m', '-T']);
  await t.waitFor(/Hit Ctrl-C/);
  const progs = fs.readdirSync(`/proc/${t.child.pid}/fdinfo`)
    .map(fd => /^prog_id:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${t.child.pid}/fdinfo/${fd}`, 'utf8'))?.[1])
    .filter(Boolean).map(Number);
  expect(new Set(progs).size).toBe(3); // sched_wakeup, sched_wakeup_new, sched_switch
  await new Promise(r => setTimeout(r, 1500));
  expect(await t.stop()).toBe(0);
  stop(hogs);
  const out = t.stdout();
  expect(out.split('\n').slice(0, 3)).toEqual(['Tracing run queue latency... Hit Ctrl-C to end.', '', expect.stringMatching(/^\d\d:\d\d:\d\d$/)]);
  expect(out).toContain('\npid = ');
  expect(out).toContain('     msecs               : count     distribution');
  // BCC's section line is "pid = <tgid>"; every hog was preempted while we traced
  const byPid = sections(out, 'pid');
  for (const h of hogs) expect(byPid.get(h.pid!)).toBeGreaterThan(0);
  const loaded = loadedProgramIds();
  expect(progs.filter(id => loaded.has(id))).toEqual([]);
});

test('-L sections per thread; --pidnss separates a hog in its own PID namespace', () => {
  const hogs = hog(5, ['unshare', '--pid', '--fork', '--kill-child']);
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
  const hogs = hog(4);
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

test('the raw tracepoint fallback (kernels refusing tp_btf) measures the same latencies', () => {
  // The tool's program loaded with its tp_btf programs disabled, in a child process (the koffi
  // bindings are per process and Jest gives each test file fresh modules).
  const dir = tmpDir();
  const script = path.join(dir, 'raw.mts');
  fs.writeFileSync(script, `
    (globalThis as { __bpfkitCatalogue?: boolean }).__bpfkitCatalogue = true; // define the tool, don't run it
    const { BPF } = await import('${root}/lib/bpf.ts');
    const { definedTools } = await import('${root}/lib/cli/index.ts');
    await import('${root}/tools/cpu/runqlat.ts');
    const spec = definedTools().find(t => t.name === 'runqlat')!;
    const bpf = BPF.load({ text: spec.program, name: 'runqlat', rodata: { targ_per: 1 }, disable: ['wakeup_btf', 'wakeup_new_btf', 'switch_btf'] });
    bpf.attachAll();
    await new Promise(r => setTimeout(r, 1000));
    const sections = bpf.histogram('dist_by').read(true).sections.map(s => ({ pid: s.key, n: s.slots.reduce((a, b) => a + b, 0) }));
    const loaded = [...bpf.programs.values()].filter(p => p.loaded).map(p => p.section).sort();
    bpf.close();
    console.log(JSON.stringify({ loaded, sections }));
  `);
  const hogs = hog(4);
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'bpfkit-node.mjs'), script], { encoding: 'utf8', timeout: 30000 });
  stop(hogs);
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`the script failed (${r.status}):\n${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { loaded: string[]; sections: { pid: number; n: number }[] };
  expect(res.loaded).toEqual(['raw_tp/sched_switch', 'raw_tp/sched_wakeup', 'raw_tp/sched_wakeup_new']);
  for (const h of hogs) expect(res.sections.find(s => s.pid === h.pid)?.n).toBeGreaterThan(0);
});

test('conformance: the same run-queue latencies as libbpf-tools runqlat (totals within 5 %)', async () => {
  // Both trace one process (-p): a busy shell that stops itself at once, is continued only when both
  // tools are attached, and is killed before either is stopped — so its whole runnable life is
  // inside both windows and both must count the same wakeups and preemptions. The other hogs
  // (not traced, at the same nice level) make it wait on the run queue.
  const others = hog(8, [], 0);
  const target = spawn('sh', ['-c', 'kill -STOP $$; while :; do :; done'], { stdio: 'ignore' });
  const stopped = () => /^State:\s+T/m.test(fs.readFileSync(`/proc/${target.pid}/status`, 'utf8'));
  while (!stopped()) await new Promise(r => setTimeout(r, 10));
  const [ours, theirs] = [startTool('runqlat', ['-p', String(target.pid)]), startReference('runqlat', ['-p', String(target.pid)])];
  await Promise.all([ours.waitFor(/Hit Ctrl-C/), theirs.waitFor(/Hit Ctrl-C/)]);
  target.kill('SIGCONT');
  await new Promise(r => setTimeout(r, 1500));
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
  console.log(`runqlat conformance: bpfkit ${sum(a)}, libbpf-tools ${sum(b)} latencies of one hog in 1.5 s; ${moved / 2} in another row`);
  expect(sum(a)).toBeGreaterThan(50);
  expect(Math.abs(sum(a) - sum(b))).toBeLessThanOrEqual(Math.max(2, 0.05 * sum(b)));
  expect(moved).toBeLessThanOrEqual(Math.max(4, 0.1 * sum(b)));
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('runqlat', [['--bogus'], ['-p', 'abc'], ['-1'], ['--', '-1'], ['1', '2', '3'], ['-P', '-L'], ['x'], ['1', '0']]);
  expectRefusedUnprivileged('runqlat');
});
