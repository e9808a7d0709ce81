#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// signals: signals counted by signal and receiving process, as the kernel generates them
// (signal:signal_generate: from kill(2) and its kin, faults, timers, the kernel itself), printed at
// the end as the book's signals.bt prints its map: @[SIGNAL, PID, COMM]: COUNT, smallest count first.
import { defineTool, durationSeconds, opt } from '../../lib/cli/index.js';
import { signalName } from '../../lib/host/signals.js';

const program = `
#include <bpfkit.h>

const volatile s32 targ_tpid = 0;

struct signal_key {
	s32 sig;
	s32 tpid;
	char tcomm[16];
};

BPF_HASH(counts, struct signal_key, u64, 10240);

TRACEPOINT_PROBE(signal, signal_generate)
{
	if (targ_tpid && args->pid != targ_tpid)
		return 0;
	struct signal_key key = { .sig = args->sig, .tpid = args->pid };
	__builtin_memcpy(key.tcomm, args->comm, sizeof(key.tcomm));
	map_increment(counts, key);
	return 0;
}
`;

interface Options { pid?: number; duration?: string }
interface SignalKey { sig: number; tpid: number; tcomm: string }

/** The book's names: SIGHUP ... SIGSYS, then the real-time signals from SIGRTMIN (34; glibc keeps 32 and 33). */
const bookName = (sig: number) => (sig >= 34 ? (sig === 34 ? 'SIGRTMIN' : `SIGRTMIN+${sig - 34}`) : signalName(sig));

defineTool<Options>({
  name: 'signals',
  subsystem: 'app',
  description: 'Count signals by signal and receiving process',
  ports: { bpftrace: 'tools/signals.bt', book: 'chapter 13, Applications' },
  probes: { tracepoint: ['signal/signal_generate'] },
  output: 'counts',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['sig', 'sig_name', 'tpid', 'tcomm', 'count'] }),
  program,
  options: {
    pid: opt.pid('count signals to this PID only', 'p'),
  },
  positional: '[duration]',
  examples: [
    ['signals', 'count signals until Ctrl-C'],
    ['signals 10', 'count signals for 10 seconds'],
    ['signals -p 181', 'count signals sent to PID 181 only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const bpf = load({ rodata: { targ_tpid: opts.pid ?? 0 } });
    bpf.attachAll();
    const started = Date.now();
    banner('Counting signals. Hit Ctrl-C to end.');
    await untilExit(duration);
    const rows = bpf.map<SignalKey, bigint>('counts').entries()
      .map(([k, n]) => ({ sig: k.sig, name: bookName(k.sig), tpid: k.tpid, tcomm: k.tcomm, count: Number(n) }))
      .sort((a, b) => a.count - b.count || a.sig - b.sig || a.tpid - b.tpid);
    if (json) {
      emit.counts((Date.now() - started) / 1000, rows.map(r => ({ sig: r.sig, sig_name: r.name, tpid: r.tpid, tcomm: r.tcomm, count: r.count })));
      return;
    }
    out.line('');
    out.line('@[SIGNAL, PID, COMM] = COUNT');
    out.line('');
    for (const r of rows) out.line(`@[${r.name}, ${r.tpid}, ${r.tcomm}]: ${r.count}`);
  },
});
