#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// sigsnoop: signals as the kernel generates them (signal:signal_generate: from kill(2), from faults,
// from the kernel itself), or with -k only those sent by kill(2), tkill(2) and tgkill(2), with their
// result. Port of libbpf-tools' sigsnoop; the syscall programs are shared with killsnoop.
import { defineTool, opt } from '../../lib/cli/index.js';
import { SIGNAL_SYSCALLS_C, signalMask, signalName } from '../../lib/host/signals.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
${SIGNAL_SYSCALLS_C}

const volatile bool targ_kill_only = false;

/* errno is the generation's error (0: generated), as libbpf-tools reports it. Inside a kill syscall
 * (-k) it only names the receiver: the syscall's tracepoints don't see it. */
TRACEPOINT_PROBE(signal, signal_generate)
{
	u32 tid = bpfkit_tid();
	struct signal_event *sending_now = bpf_map_lookup_elem(&sending, &tid);
	if (sending_now)
		__builtin_memcpy(sending_now->tcomm, args->comm, sizeof(sending_now->tcomm));
	if (targ_kill_only)
		return 0;
	u32 pid = bpfkit_tgid();
	if ((targ_failed && args->errno == 0) || !signal_wanted(pid, args->pid, args->sig))
		return 0;
	struct signal_event *e = ringbuf_reserve(events, struct signal_event);
	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->pid = pid;
	e->tpid = args->pid;
	e->sig = args->sig;
	e->ret = args->errno;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	__builtin_memcpy(e->tcomm, args->comm, sizeof(e->tcomm));
	ringbuf_submit(events, e);
	return 0;
}
`;

interface Options { failed: boolean; kill: boolean; pid?: number; signal?: bigint; name: boolean }
interface SignalEvent { ts: bigint; pid: number; tpid: number; sig: number; ret: number; comm: string; tcomm: string }

const syscallPrograms = ['kill', 'tkill', 'tgkill'].flatMap(s => [`tracepoint__syscalls__sys_enter_${s}`, `tracepoint__syscalls__sys_exit_${s}`]);

defineTool<Options>({
  name: 'sigsnoop',
  subsystem: 'app',
  description: 'Trace standard and real-time signals',
  ports: { 'libbpf-tools': 'libbpf-tools/sigsnoop.bpf.c' },
  probes: { tracepoint: ['signal/signal_generate', ...['kill', 'tkill', 'tgkill'].flatMap(s => [`syscalls/sys_enter_${s}`, `syscalls/sys_exit_${s}`])] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-k', '-n'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'sig', 'sig_name', 'tpid', 'tcomm', 'result'] }),
  program,
  options: {
    failed: opt.flag('x', 'trace failed signals only'),
    kill: opt.flag('k', 'trace signals issued by kill syscall only'),
    pid: opt.pid('process ID to trace'),
    signal: { alias: 's', type: 'string', describe: 'signals to trace (numbers or names, comma separated)', coerce: signalMask },
    name: opt.flag('n', 'output signal name instead of signal number'),
  },
  examples: [
    ['sigsnoop', 'trace signals system-wide'],
    ['sigsnoop -k', 'trace signals issued by kill syscall only'],
    ['sigsnoop -x', 'trace failed signals only'],
    ['sigsnoop -p 1216', 'only trace PID 1216'],
    ['sigsnoop -s 1,9,15', 'trace signal 1, 9, 15'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({
      rodata: { targ_pid: opts.pid ?? 0, targ_signals: opts.signal ?? 0n, targ_failed: opts.failed, targ_kill_only: opts.kill },
      // as libbpf-tools: the generated signals, or (-k) the kill syscalls, not both
      disable: opts.kill ? [] : syscallPrograms,
    });
    bpf.attachAll();
    if (!json) {
      out.line(sprintf('%-8s %-7s %-16s %-12s %-7s %-16s %-6s', 'TIME', 'PID', 'COMM', 'SIG', 'TPID', 'TCOMM', 'RESULT'));
      out.flush();
    }
    const stream = bpf.events<SignalEvent>('events', 'signal_event', e => {
      const tcomm = e.tcomm || 'N/A'; // a kill that generated no signal (no such process) names no receiver
      if (json) {
        emit.event({ pid: e.pid, comm: e.comm, sig: e.sig, sig_name: signalName(e.sig), tpid: e.tpid, tcomm, result: e.ret }, { tsNs: e.ts });
        return;
      }
      const sig = opts.name ? sprintf('%-12s', signalName(e.sig)) : sprintf('%-12d', e.sig);
      out.line(sprintf('%-8s %-7d %-16s %s %-7d %-16s %-6d', strftimeHMS(), e.pid, e.comm, sig, e.tpid, tcomm, e.ret));
    });
    await untilExit();
    stream.drain(); // signals sent just before Ctrl-C
  },
});
