// bench/wave-disk: the per-event cost of the disk and memory wave's BPF programs (bitesize, biopattern,
// biotop, seeksize, biostacks, drsnoop) against libbpf-tools' on the same workload, from the kernel's own accounting
// (kernel.bpf_stats_enabled: run_time_ns and run_cnt per program, as `bpftool prog show` prints them).
// Each pair runs side by side, so both see the same events; the figure is the time their programs
// spent per event they handled, and the ratio ours / libbpf-tools'. Where libbpf-tools' tool cannot
// run here (biotop: a kprobe; biostacks: fentry), has no such tool (seeksize) or sees none of the
// events (drsnoop: memcg reclaim), only ours is printed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { measure, start } from './lib/bpf-stats.js';

const ours = (tool: string, args: string[] = []) =>
  start(`bpfkit ${tool}`, path.join(projectRoot, 'bin', 'bpfkit-node'), [path.join(projectRoot, 'tools', tool.startsWith('drsnoop') ? 'mem' : 'disk', `${tool}.ts`), ...args]);
const reference = (tool: string, args: string[] = []) => start(`libbpf-tools ${tool}`, 'stdbuf', ['-oL', `/usr/sbin/${tool}`, ...args]);

const dir = fs.mkdtempSync('/var/tmp/bpfkit-bench-wavedisk-');
const file = path.join(dir, 'data');
const sysctl = '/proc/sys/kernel/bpf_stats_enabled';
const statsWas = fs.readFileSync(sysctl, 'utf8').trim();
try {
  fs.writeFileSync(sysctl, '1');
  spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=32', 'conv=fsync']);
  const directWrites = () => void spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4096', 'count=3000', 'oflag=direct', 'conv=notrunc']);
  const lines: string[] = [];
  lines.push(await measure('bitesize (block_rq_issue)', [ours('bitesize'), reference('bitesize')], directWrites));
  lines.push(await measure('biopattern (block_rq_complete)', [ours('biopattern'), reference('biopattern')], directWrites));
  lines.push(await measure('biotop (io_start, rq_issue, io_done; libbpf-tools\' needs a kprobe: not here)', [ours('biotop', ['-C'])], directWrites));
  lines.push(await measure('seeksize (block_rq_issue; the book\'s is bpftrace: no libbpf-tools tool)', [ours('seeksize')], directWrites));
  lines.push(await measure('biostacks (io_start with a stack id, io_done; libbpf-tools\' loads fentry: not here)', [ours('biostacks')], directWrites));
  // memcg reclaim: a dd reading 96 MiB (not cached) through the page cache of a 32 MiB memory cgroup
  const { cleanFile, memoryCgroup } = await import('../test/kernel/memcg.js');
  const cg = memoryCgroup('bpfkit-bench', 32 << 20);
  try {
    cleanFile(`${dir}/reclaim.dat`, 96);
    const pressure = () => void spawnSync('sh', ['-c', `echo $$ > ${cg.dir}/cgroup.procs && exec dd if=${dir}/reclaim.dat of=/dev/null bs=1M status=none`]);
    lines.push(await measure('drsnoop --memcg (memcg reclaim: libbpf-tools\' sees none of it)', [ours('drsnoop', ['--memcg'])], pressure));
  } finally {
    cg.remove();
  }
  for (const l of lines) process.stdout.write(`wave-disk: ${l}\n`);
} finally {
  fs.writeFileSync(sysctl, statsWas);
  fs.rmSync(dir, { recursive: true, force: true });
}
