// bench/wave-app: the per-event cost of the app family's BPF programs (naptime, signals, pmlock, pmheld,
// futexctn, ioprofile, threadsnoop), from the kernel's own accounting (bench/lib/bpf-stats.ts), against
// the book's bpftrace programs on the same events where there is one: libbpf-tools has none of these
// tools here (Debian's 0.26 has no futexctn; sigsnoop is not in this family). Each pair runs side by
// side on one workload, a small C program per event kind. (The bpftrace programs with stack keys clear
// their maps at the end: printing them, every process's stacks symbolised, takes minutes.)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { measure, start, withBpfStats } from './lib/bpf-stats.js';

const ours = (tool: string, args: string[] = []) =>
  start(`bpfkit ${tool}`, path.join(projectRoot, 'bin', 'bpfkit-node'), [path.join(projectRoot, 'tools', 'app', `${tool}.ts`), ...args]);
const bpftrace = (name: string, program: string) => start(`bpftrace ${name}`, 'bpftrace', ['-e', program]);
const READY = /Hit Ctrl-C|Tracing|hit ctrl-c|Ctrl-C to end/;

const dir = fs.mkdtempSync('/var/tmp/bpfkit-bench-waveapp-');
/** A C workload: `body` in main, built once. */
function workload(name: string, body: string, top = ''): () => void {
  const bin = path.join(dir, name);
  fs.writeFileSync(`${bin}.c`, `#include <pthread.h>\n#include <signal.h>\n#include <time.h>\n#include <unistd.h>\n#include <fcntl.h>\n${top}\nint main(void)\n{\n${body}\n\treturn 0;\n}\n`);
  const cc = spawnSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-o', bin, `${bin}.c`], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(cc.stderr);
  return () => void spawnSync(bin, { stdio: 'ignore' });
}

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
try {
  const naps = workload('naps', '\tstruct timespec ns = { 0, 1000 };\n\tfor (int i = 0; i < 3000; i++) nanosleep(&ns, NULL);');
  const signals = workload('signals', '\tsignal(SIGUSR1, SIG_IGN);\n\tfor (int i = 0; i < 3000; i++) kill(getpid(), SIGUSR1);');
  const locks = workload('locks', '\tfor (int i = 0; i < 20000; i++) { pthread_mutex_lock(&m); pthread_mutex_unlock(&m); }', 'pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;');
  const contention = workload('contention', '\tpthread_t t[2];\n\tfor (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, NULL);\n\tfor (int i = 0; i < 2; i++) pthread_join(t[i], NULL);',
    'pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;\nvoid *worker(void *a) { for (int i = 0; i < 2000; i++) { pthread_mutex_lock(&m); usleep(10); pthread_mutex_unlock(&m); } return a; }');
  const preads = workload('preads', '\tchar c;\n\tint fd = open("/etc/hostname", O_RDONLY);\n\tfor (int i = 0; i < 5000; i++) if (pread(fd, &c, 1, 0) < 0) return 1;');
  const threads = workload('threads', '\tfor (int i = 0; i < 500; i++) { pthread_t t; pthread_create(&t, NULL, worker, NULL); pthread_join(t, NULL); }', 'void *worker(void *a) { return a; }');

  const lines = await withBpfStats(async () => [
    await measure('naptime (sys_enter_nanosleep/clock_nanosleep, a ring buffer event each)', [ours('naptime'),
      bpftrace('naptime.bt', 'BEGIN { printf("Tracing sleeps. Hit Ctrl-C to end.\\n"); } tracepoint:syscalls:sys_enter_nanosleep, tracepoint:syscalls:sys_enter_clock_nanosleep { printf("%-8s %-6d %-16s %-6d %-16s %d.%03d\\n", strftime("%H:%M:%S", nsecs), curtask->real_parent->tgid, curtask->real_parent->comm, pid, comm, args->rqtp->tv_sec, (uint64)args->rqtp->tv_nsec / 1000000); }')], naps, READY),
    await measure('signals (signal_generate, counted in a hash)', [ours('signals'),
      bpftrace('signals.bt', 'BEGIN { printf("Counting signals. Hit Ctrl-C to end.\\n"); } tracepoint:signal:signal_generate { @[args->sig, args->pid, args->comm] = count(); }')], signals, READY),
    await measure('pmlock (uprobe + uretprobe on pthread_mutex_lock, a stack and a histogram per lock)', [ours('pmlock'),
      bpftrace('pmlock.bt', `BEGIN { printf("Tracing libpthread mutex lock latency, Ctrl-C to end.\\n"); } uprobe:${LIBC}:pthread_mutex_lock { @lock_start[tid] = nsecs; @lock_addr[tid] = arg0; } uretprobe:${LIBC}:pthread_mutex_lock /@lock_start[tid]/ { @lock_latency_ns[usym(@lock_addr[tid]), ustack(5), comm] = hist(nsecs - @lock_start[tid]); delete(@lock_start[tid]); delete(@lock_addr[tid]); } END { clear(@lock_latency_ns); }`)], locks, READY),
    await measure('pmheld (lock, trylock and unlock uprobes; the book\'s needs a PID: ours only)', [ours('pmheld')], locks, READY),
    await measure('futexctn (sys_enter/exit_futex; no libbpf-tools futexctn in Debian\'s 0.26: ours only)', [ours('futexctn')], contention, READY),
    await measure('ioprofile (every *read*/*write*/*send*/*recv* sys_enter, a stack count)', [ours('ioprofile'),
      bpftrace('ioprofile.bt', 'BEGIN { printf("Tracing I/O syscall user stacks. Ctrl-C to end.\\n"); } tracepoint:syscalls:sys_enter_*read*, tracepoint:syscalls:sys_enter_*write*, tracepoint:syscalls:sys_enter_*send*, tracepoint:syscalls:sys_enter_*recv* { @[probe, ustack, comm] = count(); } END { clear(@); }')], preads, READY),
    await measure('threadsnoop (uprobe on pthread_create, a ring buffer event each)', [ours('threadsnoop'),
      bpftrace('threadsnoop.bt', `BEGIN { printf("Tracing new threads... Hit Ctrl-C to end.\\n"); } uprobe:${LIBC}:pthread_create { printf("%-10u %-6d %-16s %s\\n", elapsed / 1000000, pid, comm, usym(arg2)); }`)], threads, READY),
  ]);
  for (const l of lines) process.stdout.write(`wave-app: ${l}\n`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
