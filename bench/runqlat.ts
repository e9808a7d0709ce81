// bench/runqlat: `runqlat 1 1` wall time and peak RSS, ours against libbpf-tools' in the same run
// (alternating, median of N). Goal: our time over the 1 s interval within 150 ms of theirs, warm cache.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);

function measure(cmd: string[]): { seconds: number; rssKb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  const [secs, rss] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: secs, rssKb: rss };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function runqlatBench() {
  const ours = [process.execPath, path.join(projectRoot, 'bin', 'bpfkit-node.mjs'), path.join(projectRoot, 'tools', 'cpu', 'runqlat.ts'), '1', '1'];
  const theirs = ['/usr/sbin/runqlat', '1', '1'];
  measure(ours); // warm the compile cache and the page cache
  const o: { seconds: number; rssKb: number }[] = [];
  const t: { seconds: number; rssKb: number }[] = [];
  for (let i = 0; i < runs; i++) {
    o.push(measure(ours));
    t.push(measure(theirs));
  }
  return {
    ours: { seconds: median(o.map(x => x.seconds)), rssKb: Math.max(...o.map(x => x.rssKb)) },
    theirs: { seconds: median(t.map(x => x.seconds)), rssKb: Math.max(...t.map(x => x.rssKb)) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = runqlatBench();
  const extraOurs = (r.ours.seconds - 1) * 1000;
  const extraTheirs = (r.theirs.seconds - 1) * 1000;
  process.stdout.write(`runqlat 1 1 (median of ${runs}): bpfkit ${r.ours.seconds.toFixed(2)} s, libbpf-tools ${r.theirs.seconds.toFixed(2)} s; ` +
    `time over the interval: ${extraOurs.toFixed(0)} ms vs ${extraTheirs.toFixed(0)} ms (+${(extraOurs - extraTheirs).toFixed(0)} ms, ratio ${(r.ours.seconds / r.theirs.seconds).toFixed(2)}x); ` +
    `peak RSS ${(r.ours.rssKb / 1024).toFixed(0)} MiB vs ${(r.theirs.rssKb / 1024).toFixed(0)} MiB\n`);
}
