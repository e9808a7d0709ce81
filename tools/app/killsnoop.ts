#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// killsnoop: signals sent by kill(2) (and tkill/tgkill, as libbpf-tools' killsnoop), with their
// result. Port of BCC's killsnoop on the syscall tracepoints (BCC uses a kprobe and kretprobe on the
// kill syscall: the same moments); the programs are lib/host/signals.ts's.
import fs from 'node:fs';
import { defineTool, opt } from '../../lib/cli/index.js';
import { SIGNAL_SYSCALLS_C, signalMask } from '../../lib/host/signals.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
${SIGNAL_SYSCALLS_C}
`;

interface Options { failed: boolean; pid?: number; tpid?: number; signal?: bigint }
interface SignalEvent { ts: bigint; pid: number; tpid: number; sig: number; ret: number; comm: string }

defineTool<Options>({
  name: 'killsnoop',
  subsystem: 'app',
  description: 'Trace signals issued by the kill() syscall',
  ports: { bcc: 'tools/killsnoop.py', 'libbpf-tools': 'libbpf-tools/sigsnoop.c', bpftrace: 'tools/killsnoop.bt', book: 'chapter 13, Applications' },
  probes: { tracepoint: ['kill', 'tkill', 'tgkill'].flatMap(s => [`syscalls/sys_enter_${s}`, `syscalls/sys_exit_${s}`]) },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-x'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'sig', 'tpid', 'result'] }),
  program,
  options: {
    failed: opt.flag('x', 'only show failed kill syscalls'),
    pid: opt.pid('trace this PID only which is the sender of signal'),
    tpid: opt.pid('trace this target PID only which is the receiver of signal', 'T'),
    signal: { alias: 's', type: 'string', describe: 'trace a signal or a signal list', coerce: signalMask },
  },
  examples: [
    ['killsnoop', 'trace all kill() signals'],
    ['killsnoop -x', 'only show failed kills'],
    ['killsnoop -p 181', 'only trace PID 181'],
    ['killsnoop -T 189', 'only trace target PID 189'],
    ['killsnoop -s 9', 'only trace signal 9'],
    ['killsnoop -s 9,15', 'trace signal 9 and 15'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_pid: opts.pid ?? 0, targ_tpid: opts.tpid ?? 0, targ_signals: opts.signal ?? 0n, targ_failed: opts.failed } });
    bpf.attachAll();
    // BCC sizes the PID columns to pid_max's digits, plus one
    const pidWidth = fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim().length + 1;
    if (!json) {
      out.line(sprintf('%-9s %-*s %-16s %-4s %-*s %s', 'TIME', pidWidth, 'PID', 'COMM', 'SIG', pidWidth, 'TPID', 'RESULT'));
      out.flush();
    }
    const stream = bpf.events<SignalEvent>('events', 'signal_event', e => {
      if (json) emit.event({ pid: e.pid, comm: e.comm, sig: e.sig, tpid: e.tpid, result: e.ret }, { tsNs: e.ts });
      else out.line(sprintf('%-9s %-*d %-16s %-4d %-*d %d', strftimeHMS(), pidWidth, e.pid, e.comm, e.sig, pidWidth, e.tpid, e.ret));
    });
    await untilExit();
    stream.drain(); // signals sent just before Ctrl-C
  },
});
