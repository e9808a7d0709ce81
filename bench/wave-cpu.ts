// bench/wave-cpu: the BPF-side cost of cpudist, syscount, runqslower, killsnoop and
// sigsnoop against Debian's libbpf-tools on the same workload. Each pair runs at once with the kernel's
// BPF statistics on (kernel.bpf_stats_enabled), so both see the same events; a tool's cost is the run
// time of all its programs over the workload (run_time_ns in their fds' fdinfo), printed as ours / theirs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { startTracing as start, statsOf } from './lib/bpf-stats.js';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-'));

const syscalls = () => spawnSync('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=300000', 'status=none']);
/** 3,000 kill(2) calls of signal 0 (the shell's builtin kill), and 200 signals generated (SIGCHLD of each sh). */
const kills = () => {
  spawnSync('sh', ['-c', 'i=0; while [ $i -lt 3000 ]; do kill -0 $$; i=$((i+1)); done']);
  for (let i = 0; i < 200; i++) spawnSync('sh', ['-c', 'true']);
};
/** Four busy shells on two CPUs for a second: context switches (preemptions) on both CPUs. */
async function switches(): Promise<void> {
  const hogs = Array.from({ length: os.cpus().length * 2 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  // and a task that sleeps 1 ms at a time: wakeups
  const sleeper = spawn('sh', ['-c', 'for i in $(seq 400); do sleep 0.001; done'], { stdio: 'ignore' });
  await sleep(1500);
  for (const h of [...hogs, sleeper]) h.kill('SIGKILL');
}

const pairs: { tool: string; ours: string[]; theirs: string[]; work: () => unknown }[] = [
  { tool: 'cpudist', ours: [], theirs: [], work: switches },
  { tool: 'runqslower', ours: [], theirs: [], work: switches },
  { tool: 'syscount', ours: [], theirs: [], work: syscalls },
  { tool: 'syscount', ours: ['-L'], theirs: ['-L'], work: syscalls },
  { tool: 'killsnoop', ours: [], theirs: [], work: kills },
  { tool: 'sigsnoop', ours: [], theirs: [], work: kills },
];

const statsSysctl = '/proc/sys/kernel/bpf_stats_enabled';
const statsBefore = fs.readFileSync(statsSysctl, 'utf8').trim();
fs.writeFileSync(statsSysctl, '1');
try {
  console.log('wave-cpu: BPF run time on the same workload, bpfkit / libbpf-tools (bpf_stats)');
  for (const p of pairs) {
    const toolFile = ['cpu', 'app'].map(sub => path.join(projectRoot, 'tools', sub, `${p.tool}.ts`)).find(f => fs.existsSync(f))!;
    const ours = start(path.join(projectRoot, 'bin', 'bpfkit-node'), [toolFile, ...p.ours]);
    const theirs = start('stdbuf', ['-oL', `/usr/sbin/${p.tool}`, ...p.theirs]);
    await Promise.all([ours.ready, theirs.ready]);
    await sleep(200); // our launcher's node is the tool's process: its programs are attached by now
    const [a0, b0] = [statsOf(ours.child.pid!), statsOf(theirs.child.pid!)];
    await p.work();
    const [a1, b1] = [statsOf(ours.child.pid!), statsOf(theirs.child.pid!)];
    for (const c of [ours.child, theirs.child]) c.kill('SIGINT');
    await Promise.all([ours.child, theirs.child].map(c => new Promise(r => (c.exitCode !== null ? r(0) : c.once('exit', r)))));
    const [a, b] = [{ runNs: a1.runNs - a0.runNs, runs: a1.runs - a0.runs }, { runNs: b1.runNs - b0.runNs, runs: b1.runs - b0.runs }];
    const name = `${p.tool} ${p.ours.join(' ')}`.trim().padEnd(14);
    console.log(`  ${name} bpfkit ${(a.runNs / 1e6).toFixed(2)} ms in ${a.runs} runs, libbpf-tools ${(b.runNs / 1e6).toFixed(2)} ms in ${b.runs} runs: ratio ${(a.runNs / b.runNs).toFixed(2)}`);
  }
} finally {
  fs.writeFileSync(statsSysctl, statsBefore);
  fs.rmSync(dir, { recursive: true, force: true });
}
