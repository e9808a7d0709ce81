#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// futexctn: futex contention, as the time threads wait in futex(FUTEX_WAIT) calls, a log2 histogram
// per thread, futex address and user stack (or per process and address with -s). Port of
// libbpf-tools' futexctn, at the futex syscall's tracepoints; FUTEX_WAIT_BITSET waits count too
// (glibc's condition variables and timed waits use it).
import { defineTool, intervalCount, opt, UsageError } from '../../lib/cli/index.js';
import { formatLog2Hist, log2HistJson, strftimeHMS } from '../../lib/output/index.js';
import { StackReader } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit.h>

#define FUTEX_WAIT		0
#define FUTEX_WAIT_BITSET	9
#define FUTEX_PRIVATE_FLAG	128
#define FUTEX_CLOCK_REALTIME	256
#define FUTEX_CMD_MASK		~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
#define MAX_SLOTS		32

const volatile bool targ_summary = false;
const volatile bool targ_ms = false;
const volatile u64 targ_lock = 0;
const volatile u32 targ_pid = 0;
const volatile u32 targ_tid = 0;

struct wait_start { u64 ts; u64 uaddr; };
struct hist_key {
	u64 pid_tgid;        /* -s: the tgid alone */
	u64 uaddr;
	s64 user_stack_id;   /* 64 bits: no padding in a hash key */
};
struct futex_hist {
	u64 slots[MAX_SLOTS];
	u64 contended;
	u64 total_elapsed;
	u64 min;
	u64 max;
	char comm[16];
};

BPF_HASH(start, u64, struct wait_start, 10240);
BPF_HASH(hists, struct hist_key, struct futex_hist, 10240);
BPF_STACK_TRACE(stack_traces, 1024);

TRACEPOINT_PROBE(syscalls, sys_enter_futex)
{
	int cmd = (int)args->op & FUTEX_CMD_MASK;
	if (cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET)
		return 0;
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (targ_pid && targ_pid != pid_tgid >> 32)
		return 0;
	if (targ_tid && targ_tid != (u32)pid_tgid)
		return 0;
	struct wait_start w = { .ts = bpf_ktime_get_ns(), .uaddr = (u64)args->uaddr };
	if (targ_lock && targ_lock != w.uaddr)
		return 0;
	bpf_map_update_elem(&start, &pid_tgid, &w, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_futex)
{
	static const struct futex_hist zero = {};
	u64 now = bpf_ktime_get_ns();
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct wait_start *w = bpf_map_lookup_elem(&start, &pid_tgid);
	if (!w)
		return 0;
	/* a wait that failed (EAGAIN: the futex changed before it slept) was no contention */
	if (args->ret < 0 || now < w->ts)
		goto cleanup;
	struct hist_key key = { .pid_tgid = pid_tgid, .uaddr = w->uaddr };
	if (targ_summary)
		key.pid_tgid >>= 32;
	else
		key.user_stack_id = bpf_get_stackid(args, &stack_traces, BPF_F_USER_STACK);
	struct futex_hist *h = map_lookup_or_try_init(hists, &key, &zero);
	if (!h)
		goto cleanup;
	u64 delta = (now - w->ts) / (targ_ms ? 1000000 : 1000);
	u64 slot = bpf_log2l(delta);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->contended, 1);
	__sync_fetch_and_add(&h->total_elapsed, delta);
	u64 min = h->min;
	if (!min || min > delta)
		__sync_val_compare_and_swap(&h->min, min, delta);
	u64 max = h->max;
	if (max < delta)
		__sync_val_compare_and_swap(&h->max, max, delta);
	bpf_get_current_comm(&h->comm, sizeof(h->comm));
cleanup:
	bpf_map_delete_elem(&start, &pid_tgid);
	return 0;
}
`;

interface Options {
  pid?: number; tid?: number; lock?: bigint; timestamp: boolean; milliseconds: boolean; summary: boolean;
  perfMaxStackDepth?: number; stackStorageSize?: number; interval?: string; count?: string;
}
interface HistKey { pid_tgid: bigint; uaddr: bigint; user_stack_id: bigint }
interface FutexHist { slots: bigint[]; contended: bigint; total_elapsed: bigint; min: bigint; max: bigint; comm: string }

/** -l LOCK: an address, hex (0x...) or decimal, as libbpf-tools' strtoull(arg, 0). */
function lockAddress(v: unknown): bigint | undefined {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v).trim();
  if (!/^(0x[0-9a-f]+|[1-9]\d*)$/i.test(s)) throw new UsageError(`invalid lock: '${s}' (an address, e.g. 0x8187bb8)`);
  return BigInt(s);
}

defineTool<Options>({
  name: 'futexctn',
  subsystem: 'app',
  description: 'Summarize futex contention latency as a histogram',
  ports: { 'libbpf-tools': 'libbpf-tools/futexctn.bpf.c' },
  probes: { tracepoint: ['syscalls/sys_enter_futex', 'syscalls/sys_exit_futex'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-s', '-m'], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'lock' }),
  program,
  options: {
    pid: opt.pid('trace this PID only'),
    tid: opt.tid('trace this TID only'),
    lock: { alias: 'l', type: 'string', describe: 'trace this lock only', coerce: lockAddress },
    timestamp: opt.flag('T', 'include timestamp on output'),
    milliseconds: opt.flag('m', 'millisecond histogram'),
    summary: opt.flag('s', 'summary futex contention latency (no stacks)'),
    perfMaxStackDepth: opt.int(undefined, 'the limit for both kernel and user stack traces (default 127)', 'perf max stack depth'),
    stackStorageSize: opt.int(undefined, 'the number of unique stack traces that can be stored and displayed (default 1024)', 'stack storage size'),
  },
  positional: '[interval] [count]',
  examples: [
    ['futexctn', 'summarize futex contention latency as a histogram'],
    ['futexctn 1 10', 'print 1 second summaries, 10 times'],
    ['futexctn -mT 1', '1s summaries, milliseconds, and timestamps'],
    ['futexctn -s 1', '1s summaries, without stack traces'],
    ['futexctn -l 0x8187bb8', 'only trace lock 0x8187bb8'],
    ['futexctn -p 123', 'only trace threads for PID 123'],
    ['futexctn -t 125', 'only trace thread 125'],
  ],
  validate(o) {
    if (o.stackStorageSize === 0) return 'invalid stack storage size: 0';
    if (o.perfMaxStackDepth === 0) return 'invalid perf max stack depth: 0';
    return undefined;
  },

  async run({ opts, load, out, json, emit, intervals }) {
    const { interval, count } = intervalCount(opts);
    const units = opts.milliseconds ? 'msecs' : 'usecs';
    const bpf = load({
      rodata: { targ_summary: opts.summary, targ_ms: opts.milliseconds, targ_lock: opts.lock ?? 0n, targ_pid: opts.pid ?? 0, targ_tid: opts.tid ?? 0 },
      maxEntries: { stack_traces: opts.stackStorageSize ?? 1024 },
    });
    bpf.attachAll();
    const depth = opts.perfMaxStackDepth ?? 127;
    const reader = new StackReader(bpf, { kernel: false });
    reader.track('hists', (k: HistKey) => [Number(opts.summary ? k.pid_tgid : k.pid_tgid >> 32n)]);
    process.stderr.write('Summarize futex contention latency, hit ctrl-c to exit\n');

    await intervals(interval, count, (_last, seconds) => {
      const hists = bpf.map<HistKey, FutexHist>('hists');
      const entries = hists.drain();
      const title = (k: HistKey, h: FutexHist) => {
        const avg = h.contended ? h.total_elapsed / h.contended : 0n;
        return `${h.comm}[${Number(k.pid_tgid & 0xffffffffn)}] lock 0x${k.uaddr.toString(16)} contended ${h.contended} times, ${avg} avg ${units} [max: ${h.max} ${units}, min ${h.min} ${units}]`;
      };
      const frames = (k: HistKey) =>
        (reader.frames('user', Number(k.user_stack_id), Number(k.pid_tgid >> 32n)) ?? ['[Missed User Stack]']).slice(0, depth);
      if (json) {
        emit.histogram({
          val_type: units, scale: 'log2', section_by: 'lock',
          sections: entries.map(([k, h]) => {
            const { total, buckets } = log2HistJson(h.slots, units);
            return { key: title(k, h), total, buckets, ...(opts.summary ? {} : { stack: frames(k) }) };
          }),
        }, { interval_s: seconds });
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      for (const [k, h] of entries) {
        out.write(`\n\n${title(k, h)}\n`);
        if (!opts.summary) out.write(['    -', ...frames(k).map(f => `    ${f}`), '    -'].join('\n') + '\n');
        out.write(formatLog2Hist(h.slots, units));
      }
    });
    reader.stop();
  },
});
