#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// swapin: swap-ins counted by process, every interval: BCC's swapin (and the book's swapin.bt), a kprobe
// on swap_read_folio() (swap_readpage() before 6.5). Swap-in has no tracepoint and this kernel has no
// kprobes or fentry, so this counts what comes closest: major page faults (the software perf event, every
// one) at an address of anonymous memory (bpf_find_vma: an area without a file), which is a fault that
// had to read its page back from swap. It misses what BCC counts beyond those: pages read ahead from
// swap without a fault of their own, and shared memory (shmem) read back from swap.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;

struct key_t { u32 pid; char comm[TASK_COMM_LEN]; };

BPF_HASH(counts, struct key_t, u64, 10240);

/* bpf_find_vma's callback: 1 for an area of anonymous memory (no file behind it) */
static long anonymous_area(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	*(u32 *)ctx = BPF_CORE_READ(vma, vm_file) == NULL;
	return 0;
}

SEC("perf_event")
int on_major_fault(struct bpf_perf_event_data *ctx)
{
	struct key_t key = { .pid = bpfkit_tgid() };
	u32 anonymous = 0;
	if (!key.pid || (targ_tgid && key.pid != targ_tgid))
		return 0;
	bpf_find_vma(bpf_get_current_task_btf(), ctx->addr, anonymous_area, &anonymous, 0);
	if (!anonymous)
		return 0;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	map_increment(counts, key);
	return 0;
}
`;

interface Options { timestamp: boolean; pid?: number; interval?: string; count?: string }
interface Key { pid: number; comm: string }

const PERF_TYPE_SOFTWARE = 1, PERF_COUNT_SW_PAGE_FAULTS_MAJ = 6;

defineTool<Options>({
  name: 'swapin',
  subsystem: 'mem',
  description: 'Count swap-ins by process (major faults in anonymous memory)',
  ports: { bcc: 'tools/swapin.py', bpftrace: 'tools/swapin.bt', book: 'chapter 7, Memory' },
  probes: { perf_event: ['software major-faults, every fault, on every CPU, in anonymous memory'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['comm', 'pid', 'count'] }),
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
    process.stderr.write('swapin: counted as major faults in anonymous memory (software perf event + bpf_find_vma): this kernel has no kprobes or fentry for swap_read_folio\n');
    const { interval: given, count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : given;
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachPerfEvent('on_major_fault', { type: PERF_TYPE_SOFTWARE, config: PERF_COUNT_SW_PAGE_FAULTS_MAJ, period: 1 });
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
