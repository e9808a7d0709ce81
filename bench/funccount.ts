// bench/funccount: counting every syscall tracepoint (~360) with `funccount 't:syscalls:sys_enter_*' -d 1`
// against bpftrace's `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }` traced for 1 s, in the
// same run, alternating (medians of BENCH_RUNS, default 2: bpftrace takes ~30 s per run). Measured
// from Enter (spawn) to attached — our banner, printed after the attach; bpftrace's BEGIN, run after
// its attach — and to exit (the total wall, detach included). One more run of ours with an
// empty object cache shows the cold compile of the generated program.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 2);
const funccount = path.join(projectRoot, 'tools', 'kernel', 'funccount.ts');
const tracepoints = fs.readdirSync('/sys/kernel/tracing/events/syscalls').filter(e => e.startsWith('sys_enter_')).length;

interface Sample { attachedS: number; totalS: number }

function run(cmd: string, args: string[], attached: (pid: number, stdout: string) => boolean, afterAttach?: (stop: () => void) => void,
  env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let attachedS: number | undefined;
    const check = () => {
      if (attachedS === undefined && attached(child.pid!, out)) {
        attachedS = seconds();
        afterAttach?.(() => child.kill('SIGINT'));
      }
    };
    child.stdout.on('data', d => {
      out += d;
      check();
    });
    let err = '';
    child.stderr.on('data', d => (err += d));
    const poll = setInterval(check, 20);
    child.on('exit', code => {
      clearInterval(poll);
      if (attachedS === undefined || (code !== 0 && code !== null)) reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${err}`));
      else resolve({ attachedS, totalS: seconds() });
    });
  });
}

const ours = (env?: NodeJS.ProcessEnv) => run(funccount, ['t:syscalls:sys_enter_*', '-d', '1'], (_pid, out) => out.includes('Hit Ctrl-C'), undefined, env);
// bpftrace runs BEGIN once every probe is attached: its line marks the moment
const bpftrace = () => run('bpftrace', ['-B', 'line', '-e', 'BEGIN { printf("attached\\n"); } tracepoint:syscalls:sys_enter_* { @[probe] = count(); }'],
  (_pid, out) => /^attached$/m.test(out), stop => setTimeout(stop, 1000));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function funccountBench() {
  await ours(); // warm: bundle and compiled object cached
  const a: Sample[] = [], b: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(await ours());
    b.push(await bpftrace());
  }
  // cold: the compiled-object cache empty (bundles, PCH and toolchain fingerprint kept, as after a first run of any tool)
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-cache-'));
  const shared = process.env.BPFKIT_CACHE ?? path.join(os.homedir(), '.cache', 'bpfkit');
  for (const d of fs.readdirSync(shared)) if (d !== 'obj') fs.symlinkSync(path.join(shared, d), path.join(cache, d));
  let cold: Sample;
  try {
    cold = await ours({ ...process.env, BPFKIT_CACHE: cache });
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
  const summary = (s: Sample[]) => ({ attachedS: median(s.map(x => x.attachedS)), totalS: median(s.map(x => x.totalS)) });
  return { ours: summary(a), bpftrace: summary(b), cold };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await funccountBench();
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  process.stdout.write([
    `funccount 't:syscalls:sys_enter_*' -d 1 vs bpftrace (${tracepoints} tracepoints, median of ${runs}, alternating):`,
    `  Enter to attached: ${ms(r.ours.attachedS)} vs ${ms(r.bpftrace.attachedS)} (${(r.bpftrace.attachedS / r.ours.attachedS).toFixed(1)}x faster); ` +
      `cold compile ${ms(r.cold.attachedS)}`,
    `  total wall (1 s traced, detach included): ${ms(r.ours.totalS)} vs ${ms(r.bpftrace.totalS)} (${(r.bpftrace.totalS / r.ours.totalS).toFixed(1)}x faster)`,
    '',
  ].join('\n'));
}
