#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// pmheld: time a mutex is held: from pthread_mutex_lock()'s (or a successful pthread_mutex_trylock()'s) return to pthread_mutex_unlock(), as log2 histograms per mutex, process and user stack (the book's pmheld.bt,
// chapter 13). Uprobes on libc (glibc 2.34+ has the pthread functions; libpthread is a stub); the
// probes, the run and the printing are lib/probes/mutex.ts, shared with pmlock.
import { defineTool } from '../../lib/cli/index.js';
import { MUTEX_C, MUTEX_OPTIONS, MUTEX_PROBES, mutexRun, type MutexOptions } from '../../lib/probes/mutex.js';

defineTool<MutexOptions>({
  name: 'pmheld',
  subsystem: 'app',
  description: 'Summarize pthread mutex held times as histograms by mutex and user stack',
  ports: { bpftrace: 'tools/pmheld.bt', book: 'chapter 13, Applications' },
  probes: MUTEX_PROBES,
  output: 'histogram',
  // with -p: system-wide, the end's symbolisation of every process's stacks (node's large binaries) outlasts the smoke test's limit
  invocations: [{ args: ['-p', '1', '1'], ends: 'itself' }, { args: ['-m', '-p', '1'], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'mutex' }), // lib/probes/mutex.ts printMutexHistograms
  program: MUTEX_C,
  options: MUTEX_OPTIONS,
  positional: '[duration]',
  examples: [
    ['pmheld', 'summarize mutex held times (nanoseconds) until Ctrl-C'],
    ['pmheld -p 181', 'only trace PID 181'],
    ['pmheld -m 10', 'millisecond histograms, for 10 seconds'],
  ],
  validate: o => (o.microseconds && o.milliseconds ? 'can only use one of -u and -m' : undefined),

  run: mutexRun(true, 'held times'),
});
