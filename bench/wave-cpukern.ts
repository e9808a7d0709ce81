// bench/wave-cpukern: the per-event cost of the cpukern tools' BPF programs, against bpftrace's
// scripts (Debian ships pidpersec.bt and cpuwalk.bt; kpages' and kmem's are the book's one-liners,
// written out here) where they run on this kernel, on the same workload at the same time (bench/lib/
// bpf-stats.ts). libbpf-tools' klockstat and cpufreq cannot run here (fentry/kprobes; no cpufreq),
// and BCC's Python tools are not installed: those of ours are printed alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { bpftrace, measure, ours, withBpfStats } from './lib/bpf-stats.js';
import { ttyContention } from '../test/kernel/lock-work.js';

const forks = () => void spawnSync('sh', ['-c', 'for i in $(seq 500); do /bin/true; done']);
const seconds = (s: number) => () => void spawnSync('sleep', [String(s)]);
const refreshes = () => { for (let i = 0; i < 200; i++) fs.writeFileSync('/proc/sys/vm/stat_refresh', '1\n'); };
const anonPages = () => void spawnSync('python3', ['-c', 'import mmap\nm = mmap.mmap(-1, 64 << 20)\nfor i in range(0, 64 << 20, 4096): m[i] = 1']);
const pipes = () => void spawnSync('python3', ['-c', 'import os\nfor i in range(5000): a, b = os.pipe(); os.close(a); os.close(b)']);
async function lockContention() {
  const p = ttyContention();
  await p.started();
  await p.release();
  p.end();
}

const lines = await withBpfStats(async () => [
  await measure('pidpersec (sched_process_fork)', [ours('pidpersec'), bpftrace('pidpersec.bt', ['/usr/sbin/pidpersec.bt'])], forks),
  await measure('cpuwalk (99 Hz cpu-clock, 3 s)', [ours('cpuwalk'), bpftrace('cpuwalk.bt', ['/usr/sbin/cpuwalk.bt'])], seconds(3)),
  await measure('cpuunclaimed (99 Hz cpu-clock on every CPU, one reads all queues, 3 s)', [ours('cpuunclaimed')], seconds(3)),
  await measure('wqlat (queue_work, execute_start; 200 stat_refresh)', [ours('wqlat')], refreshes),
  await measure('workq (execute_start, execute_end; 200 stat_refresh)', [ours('workq')], refreshes),
  await measure('klockstat (contention_begin/end with stack ids; tty write mutex contention)', [ours('klockstat')], lockContention),
  await measure('mlock (contention_begin/end; tty write mutex contention)', [ours('mlock')], lockContention),
  await measure('kmem (kmalloc, kmem_cache_alloc with stacks; 5000 pipes)', [ours('kmem'),
    bpftrace('kmem one-liner', ['-e', 'tracepoint:kmem:kmalloc, tracepoint:kmem:kmem_cache_alloc { @bytes[kstack(5), comm] = stats(args->bytes_alloc); } BEGIN { printf("Tracing\\n"); }'])], pipes),
  await measure('kpages (mm_page_alloc with stacks; 64 MiB touched)', [ours('kpages'),
    bpftrace('kpages one-liner', ['-e', 'tracepoint:kmem:mm_page_alloc { @pages[kstack, comm] = count(); } BEGIN { printf("Tracing\\n"); }'])], anonPages),
]);
for (const l of lines) process.stdout.write(`wave-cpukern: ${l}\n`);
