// bench/wave-irqs: the BPF-side cost of hardirqs, softirqs, softirqslower and smpcalls, from the
// kernel's own accounting (kernel.bpf_stats_enabled: run_time_ns and run_cnt of each program). Where
// Debian's libbpf-tools has the tool (hardirqs, softirqs) both run at once on the same workload and
// the figure is ours / theirs; softirqslower and smpcalls have no libbpf-tools tool here: their ns per
// program run is printed alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { startTracing as start, statsOf } from './lib/bpf-stats.js';

type ProgStats = ReturnType<typeof statsOf>;

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-irqs-'));
const file = path.join(dir, 'direct.dat');
spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=8', 'oflag=direct', 'status=none']);
/** 8,192 O_DIRECT reads of 4 KiB: as many disk interrupts and BLOCK softirqs. */
const directReads = () => spawnSync('sh', ['-c', `for i in 1 2 3 4; do dd if=${file} of=/dev/null bs=4k iflag=direct status=none; done`]);
/** A C program on CPU 0 enabling and disabling a perf event on CPU 1 2,000 times: 4,001 cross-CPU calls. */
const toggler = path.join(dir, 'toggle');
fs.writeFileSync(`${toggler}.c`, `#include <unistd.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <linux/perf_event.h>
int main(void) {
	unsigned long cpu0 = 1;
	syscall(SYS_sched_setaffinity, 0, sizeof(cpu0), &cpu0);
	struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(attr), .config = PERF_COUNT_SW_CPU_CLOCK, .disabled = 1 };
	int fd = syscall(SYS_perf_event_open, &attr, -1, 1, -1, 0);
	for (int i = 0; i < 2000; i++) { ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); }
	return 0;
}
`);
spawnSync('gcc', ['-O1', '-o', toggler, `${toggler}.c`]);
const crossCalls = () => spawnSync(toggler);

const cases: { tool: string; args: string[]; reference: boolean; work: () => unknown }[] = [
  { tool: 'hardirqs', args: [], reference: true, work: directReads },
  { tool: 'hardirqs', args: ['-C'], reference: true, work: directReads },
  { tool: 'softirqs', args: [], reference: true, work: directReads },
  { tool: 'softirqs', args: ['-C'], reference: false, work: directReads }, // libbpf-tools' softirqs has no -C
  { tool: 'softirqs', args: ['-d'], reference: true, work: directReads },
  { tool: 'softirqslower', args: ['10000'], reference: false, work: directReads },
  { tool: 'smpcalls', args: [], reference: false, work: crossCalls },
];

const delta = (a: ProgStats, b: ProgStats): ProgStats => ({ runNs: b.runNs - a.runNs, runs: b.runs - a.runs });
const perRun = (s: ProgStats) => (s.runs ? s.runNs / s.runs : 0);
const describe = (who: string, s: ProgStats) => `${who} ${(s.runNs / 1e6).toFixed(2)} ms in ${s.runs} runs (${perRun(s).toFixed(0)} ns/run)`;

const statsSysctl = '/proc/sys/kernel/bpf_stats_enabled';
const statsBefore = fs.readFileSync(statsSysctl, 'utf8').trim();
fs.writeFileSync(statsSysctl, '1');
try {
  console.log('wave-irqs: BPF run time on the same workload, bpfkit / libbpf-tools (bpf_stats)');
  for (const c of cases) {
    const tracers = [start(path.join(projectRoot, 'bin', 'bpfkit-node'), [path.join(projectRoot, 'tools', 'cpu', `${c.tool}.ts`), ...c.args])];
    if (c.reference) tracers.push(start('stdbuf', ['-oL', `/usr/sbin/${c.tool}`, ...c.args]));
    await Promise.all(tracers.map(t => t.ready));
    await sleep(200); // our launcher's node is the tool's process: its programs are attached by now
    const before = tracers.map(t => statsOf(t.child.pid!));
    await c.work();
    const used = tracers.map((t, i) => delta(before[i], statsOf(t.child.pid!)));
    for (const t of tracers) t.child.kill('SIGINT');
    await Promise.all(tracers.map(t => new Promise(r => (t.child.exitCode !== null ? r(0) : t.child.once('exit', r)))));
    const name = `${c.tool} ${c.args.join(' ')}`.trim().padEnd(20);
    const ratio = used[1] ? `: ratio ${(used[0].runNs / used[1].runNs).toFixed(2)}` : '';
    console.log(`  ${name} ${describe('bpfkit', used[0])}${used[1] ? `, ${describe('libbpf-tools', used[1])}` : ''}${ratio}`);
  }
} finally {
  fs.writeFileSync(statsSysctl, statsBefore);
  fs.rmSync(dir, { recursive: true, force: true });
}
