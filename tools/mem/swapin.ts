#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// swapin: swap-ins counted by process, every interval: BCC's swapin (and the book's swapin.bt), a kprobe
// on swap_read_folio() (swap_readpage() before 6.5). Swap-in has no tracepoint: a major fault is also a
// file read, and the block layer's reads of the swap device carry no process (the folio may be read
// ahead for another). So without kprobes or fentry nothing on this kernel sees swap-ins as such, and the
// tool says that in one line, rather than count something else under their name.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;

struct key_t { u32 pid; char comm[TASK_COMM_LEN]; };

BPF_HASH(counts, struct key_t, u64, 10240);

SEC("kprobe/swap_read_folio|swap_readpage")
int BPF_KPROBE(swap_read)
{
	struct key_t key = { .pid = bpfkit_tgid() };
	if (targ_tgid && key.pid != targ_tgid)
		return 0;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	map_increment(counts, key);
	return 0;
}
`;

interface Options { timestamp: boolean; pid?: number; interval?: string; count?: string }
interface Key { pid: number; comm: string }

defineTool<Options>({
  name: 'swapin',
  subsystem: 'mem',
  description: 'Count swap-ins by process',
  ports: { bcc: 'tools/swapin.py', bpftrace: 'tools/swapin.bt', book: 'chapter 7, Memory' },
  probes: { kprobe: ['swap_read_folio|swap_readpage'] },
  output: 'counts',
  // none: it cannot run on this kernel (test/kernel/swapin.test.ts checks the one line it prints)
  invocations: [],
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    pid: opt.pid(),
  },
  positional: '[interval] [count]',
  examples: [
    ['swapin', 'count swap-ins by process, every second'],
    ['swapin -T 5', 'every 5 seconds, with a time stamp'],
    ['swapin -p 181', 'only PID 181'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval: given, count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : given;
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    banner('Counting swap ins. Ctrl-C to end.');
    const counts = bpf.map<Key, bigint>('counts');
    await intervals(interval, count, (_last, seconds) => {
      const rows = counts.drain().map(([k, n]) => ({ comm: k.comm, pid: k.pid, count: Number(n) })).sort((a, b) => b.count - a.count);
      if (json) {
        emit.counts(seconds, rows);
        return;
      }
      if (opts.timestamp) out.line(strftimeHMS());
      out.line(sprintf('%-16s %-7s %s', 'COMM', 'PID', 'COUNT'));
      for (const r of rows) out.line(sprintf('%-16s %-7d %d', r.comm, r.pid, r.count));
      out.line('');
    });
  },
});
