#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// pmlock: time waiting in pthread_mutex_lock() (entry to return), as log2 histograms per mutex, process and user stack (the book's pmlock.bt,
// chapter 13). Uprobes on libc (glibc 2.34+ has the pthread functions; libpthread is a stub); the
// probes, the run and the printing are lib/probes/mutex.ts, shared with pmheld.
import { defineTool } from '../../lib/cli/index.js';
import { MUTEX_C, MUTEX_OPTIONS, mutexRun, type MutexOptions } from '../../lib/probes/mutex.js';

defineTool<MutexOptions>({
  name: 'pmlock',
  subsystem: 'app',
  description: 'Summarize pthread mutex lock latency as histograms by mutex and user stack',
  ports: { bpftrace: 'tools/pmlock.bt', book: 'chapter 13, Applications' },
  probes: { uprobe: ['c:pthread_mutex_lock'], uretprobe: ['c:pthread_mutex_lock'] },
  output: 'histogram',
  // with -p: system-wide, the end's symbolisation of every process's stacks (node's large binaries) outlasts the smoke test's limit
  invocations: [{ args: ['-p', '1', '1'], ends: 'itself' }, { args: ['-m', '-p', '1'], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'mutex' }), // lib/probes/mutex.ts printMutexHistograms
  program: MUTEX_C,
  options: MUTEX_OPTIONS,
  positional: '[duration]',
  examples: [
    ['pmlock', 'summarize mutex lock latency (nanoseconds) until Ctrl-C'],
    ['pmlock -p 181', 'only trace PID 181'],
    ['pmlock -m 10', 'millisecond histograms, for 10 seconds'],
  ],
  validate: o => (o.microseconds && o.milliseconds ? 'can only use one of -u and -m' : undefined),

  run: mutexRun(false, 'lock latency'),
});
