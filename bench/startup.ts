// bench/startup: what a user waits for and pays to start a tool, ours against libbpf-tools' in the same
// run (alternating, medians of BENCH_RUNS): `runqlat 1 1` (time beyond its 1 s interval, CPU time, peak
// RSS), `runqlat --help`, and `bpfkit list` with this catalogue and with 150 tools (generated copies);
// node alone (`node -e ''`) as the floor of CPU and RSS, and the load average each figure was taken at.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 7);

interface Sample { seconds: number; cpu: number; rssKb: number }

function measure(cmd: string[], cwd = projectRoot): Sample {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', ...cmd], { encoding: 'utf8', cwd });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  const [secs, user, sys, rss] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: secs, cpu: user + sys, rssKb: rss };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (s: Sample[]) => ({ seconds: median(s.map(x => x.seconds)), cpu: median(s.map(x => x.cpu)), rssKb: Math.max(...s.map(x => x.rssKb)) });

/** Runs each command `runs` times, alternating between them, after one warm-up run each. */
function alternate(cmds: string[][], cwd?: string) {
  for (const c of cmds) measure(c, cwd);
  const samples: Sample[][] = cmds.map(() => []);
  for (let i = 0; i < runs; i++) cmds.forEach((c, j) => samples[j].push(measure(c, cwd)));
  return samples.map(summary);
}

/** A copy of the project whose catalogue holds `count` tools: the real ones plus copies of runqlat. */
function catalogueOf(count: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-catalogue-'));
  for (const f of ['lib', 'bin', 'bpf-c', 'tools', 'package.json']) fs.cpSync(path.join(projectRoot, f), path.join(dir, f), { recursive: true });
  fs.symlinkSync(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const have = fs.readdirSync(path.join(dir, 'tools')).flatMap(s => fs.readdirSync(path.join(dir, 'tools', s))).length;
  const template = fs.readFileSync(path.join(projectRoot, 'tools', 'cpu', 'runqlat.ts'), 'utf8');
  fs.mkdirSync(path.join(dir, 'tools', 'gen'));
  for (let i = have; i < count; i++) {
    // a program of its own each (a distinct constant), as distinct tools have
    const text = template.replace(/name: 'runqlat'/, `name: 'gen${i}'`).replace('#define TASK_RUNNING 0', `#define TASK_RUNNING 0\n#define GEN_${i} ${i}`);
    fs.writeFileSync(path.join(dir, 'tools', 'gen', `gen${i}.ts`), text);
  }
  return dir;
}

export function startupBench() {
  const runqlat = path.join(projectRoot, 'tools', 'cpu', 'runqlat.ts');
  const load = () => os.loadavg()[0];
  const loads = [load()];
  const [ours, theirs, nodeAlone] = alternate([[runqlat, '1', '1'], ['/usr/sbin/runqlat', '1', '1'], [process.execPath, '-e', '']]);
  loads.push(load());
  const [help, theirHelp] = alternate([[runqlat, '--help'], ['/usr/sbin/runqlat', '--help']]);
  const [list] = alternate([[path.join(projectRoot, 'bin', 'bpfkit'), 'list']]);
  const big = catalogueOf(150);
  try {
    const first = measure([path.join(big, 'bin', 'bpfkit'), 'list'], big); // bundles, manifest, runs-here answers
    const [list150] = alternate([[path.join(big, 'bin', 'bpfkit'), 'list']], big);
    loads.push(load());
    return { ours, theirs, nodeAlone, help, theirHelp, list, list150, list150First: first, loads };
  } finally {
    fs.rmSync(big, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = startupBench();
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  const beyond = (s: Sample) => s.seconds - 1;
  process.stdout.write([
    `startup (median of ${runs}, alternating with libbpf-tools 0.26):`,
    `  runqlat 1 1: time beyond the interval ${ms(beyond(r.ours))} vs ${ms(beyond(r.theirs))} (+${ms(beyond(r.ours) - beyond(r.theirs))}); ` +
      `CPU ${r.ours.cpu.toFixed(3)} s vs ${r.theirs.cpu.toFixed(3)} s (${(r.ours.cpu / Math.max(r.theirs.cpu, 0.01)).toFixed(1)}x); ` +
      `peak RSS ${(r.ours.rssKb / 1024).toFixed(0)} MiB vs ${(r.theirs.rssKb / 1024).toFixed(0)} MiB`,
    `  node alone (node -e ''): CPU ${r.nodeAlone.cpu.toFixed(3)} s, peak RSS ${(r.nodeAlone.rssKb / 1024).toFixed(0)} MiB`,
    `  runqlat --help: ${ms(r.help.seconds)} vs ${ms(r.theirHelp.seconds)}`,
    `  bpfkit list: ${ms(r.list.seconds)} with this catalogue; with 150 tools ${ms(r.list150.seconds)} ` +
      `(the first run, which bundles them and asks the kernel about each, ${ms(r.list150First.seconds)})`,
    `  load average (1 min) at the start, after runqlat, at the end: ${r.loads.map(l => l.toFixed(1)).join(', ')}`,
    '',
  ].join('\n'));
}
