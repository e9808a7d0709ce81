// How a tool ends: what process.exit() does that matters to us ('exit' listeners: the output writers'
// last flush and closing BPF objects), then _exit(2) instead of node's own teardown.
//
// Why: node's teardown joins V8's worker threads, and it can deadlock there (nodejs/node#54918,
// #64274): a worker in a concurrent compile job waits for a main-thread GC that never comes while the
// main thread waits for the worker. Seen here as a tool that never exits after Ctrl-C, every thread in
// futex_wait, more often under load and after a busy event stream (much JIT work). Nothing of ours
// needs that teardown: output is written synchronously, and the kernel drops our BPF objects with the fds.
import { exitImmediately } from '../libbpf/index.js';

const nodeModule = process.getBuiltinModule('node:module');

/** process.exit(code) without node's teardown (see above). */
export function exitProcess(code: number): never {
  process.exitCode = code;
  const p = process as { _exiting?: boolean };
  if (!p._exiting) {
    p._exiting = true;
    process.emit('exit', code);
  }
  try {
    nodeModule.flushCompileCache?.(); // what node's teardown would write of V8's code cache (bin/bpfkit-node.mjs)
  } catch {
    // a cache not written only costs the next start some time
  }
  exitImmediately(code);
}
