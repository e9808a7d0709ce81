#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// klockstat: kernel mutex and semaphore contention: how long threads waited for each lock, by the
// kernel stack that waited (or by thread, -P). Port of libbpf-tools' klockstat (its options, columns
// and time format) on the lock:contention_begin/contention_end tracepoints: this kernel has no
// kprobes or fentry for mutex_lock/down_read..., so only contended acquisitions are seen (an
// uncontended one fires no tracepoint) and hold times, which need the unlock functions, are not.
import { defineTool, intervalSchedule, opt, positiveInt, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { KernelSymbols } from '../../lib/syms/index.js';
import { lockCaller, lockName, lockAddress, formatWaitTime } from '../../lib/host/locks.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_lock.h>

const volatile bool per_thread = false;   /* -P */

struct lock_stat {
	u64 acq_count;
	u64 acq_total_time;
	u64 acq_max_time;
	u64 acq_max_id;
	u64 acq_max_lock_ptr;
	char acq_max_comm[TASK_COMM_LEN];
};
BPF_HASH(stat_map, u32, struct lock_stat, 10240);   /* by stack id, or by thread with -P */

TRACEPOINT_PROBE(lock, contention_begin)
{
	return lock_wait_begin(ctx, (u64)args->lock_addr, args->flags);
}

TRACEPOINT_PROBE(lock, contention_end)
{
	struct lock_wait w;
	u64 delta = lock_wait_end((u64)args->lock_addr, &w);
	if (!delta || (!per_thread && w.stack_id < 0))
		return 0;
	u64 id = bpf_get_current_pid_tgid();
	u32 key = per_thread ? (u32)id : (u32)w.stack_id;
	static const struct lock_stat zero;
	struct lock_stat *s = map_lookup_or_try_init(stat_map, &key, &zero);
	if (!s)
		return 0;
	__sync_fetch_and_add(&s->acq_count, 1);
	__sync_fetch_and_add(&s->acq_total_time, delta);
	if (delta > s->acq_max_time) {
		s->acq_max_time = delta;
		s->acq_max_id = id;
		s->acq_max_lock_ptr = w.lock;
		bpf_get_current_comm(s->acq_max_comm, sizeof(s->acq_max_comm));
	}
	return 0;
}
`;

interface Options {
  pid?: number;
  tid?: number;
  caller?: string;
  lock?: string;
  locks?: number;
  stacks: number;
  sort?: string;
  duration?: number;
  interval?: number;
  reset: boolean;
  timestamp: boolean;
  perThread: boolean;
}

interface LockStat { acq_count: bigint; acq_total_time: bigint; acq_max_time: bigint; acq_max_id: bigint; acq_max_lock_ptr: bigint; acq_max_comm: string }

const SORTS = { acq_max: 'acq_max_time', acq_count: 'acq_count', acq_total: 'acq_total_time' } as const;

defineTool<Options>({
  name: 'klockstat',
  subsystem: 'kernel',
  description: 'Trace mutex/sem lock acquisition (wait) times, in nsec',
  ports: { bcc: 'tools/klockstat.py', 'libbpf-tools': 'libbpf-tools/klockstat.bpf.c' },
  probes: { tracepoint: ['lock/contention_begin', 'lock/contention_end'] },
  output: 'counts',
  invocations: [{ args: ['-d', '1'], ends: 'itself' }, { args: ['-P', '-d', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: o => ({ fields: [...(o.perThread ? ['tid', 'comm'] : ['caller', 'stack']), 'count', 'avg_wait_ns', 'max_wait_ns', 'total_wait_ns', 'max_pid', 'max_comm', 'max_lock'] }),
  program,
  options: {
    pid: opt.pid('Filter by process ID'),
    tid: opt.tid('Filter by thread ID'),
    caller: opt.str('c', "Filter by caller string prefix"),
    lock: opt.str('L', 'Filter by specific ksym lock name (or 0x address)'),
    locks: { alias: 'n', type: 'string', describe: 'Number of locks or threads to print', coerce: positiveInt('NR_LOCKS') },
    stacks: { alias: 's', type: 'string', default: 1, describe: 'Number of stack entries to print per lock', coerce: positiveInt('NR_STACKS') },
    sort: opt.str('S', 'Sort by field: acq_[max|total|count] (hld_*: no hold times here)'),
    duration: opt.duration('Duration to trace'),
    interval: opt.interval('Print interval'),
    reset: opt.flag('R', 'Reset stats each interval'),
    timestamp: opt.flag('T', 'Print timestamp'),
    perThread: opt.flag('P', 'Print per-thread stats'),
  },
  examples: [
    ['klockstat', 'trace system wide until ctrl-c'],
    ['klockstat -d 5', 'trace for 5 seconds'],
    ['klockstat -i 5', 'print stats every 5 seconds'],
    ['klockstat -p 181', 'trace process 181 only'],
    ['klockstat -t 181', 'trace thread 181 only'],
    ['klockstat -c pipe_', "print only for lock callers with 'pipe_' prefix"],
    ['klockstat -L 0xffff8881040e1c38', 'trace this lock only (a ksym name where kallsyms lists it)'],
    ['klockstat -S acq_count', 'sort lock acquired results by acquire count'],
    ['klockstat -n 3', 'display top 3 locks/threads'],
    ['klockstat -s 6', 'display 6 stack entries per lock'],
    ['klockstat -P', 'print stats per thread'],
  ],
  validate(o) {
    if (o.perThread && o.stacks !== 1) return '--per-thread and --stacks cannot be used together';
    for (const s of (o.sort ?? '').split(',').filter(Boolean)) {
      if (/^hld_(max|total|count)$/.test(s)) return `cannot sort by ${s}: hold times need kprobes or fentry, which this kernel lacks`;
      if (!(s in SORTS)) return `Bad sort string: ${o.sort}`;
    }
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const ksyms = KernelSymbols.load();
    const lock = opts.lock === undefined ? 0n : lockAddress(ksyms, opts.lock);
    if (lock === undefined) throw new UsageError(`failed to find lock ${opts.lock}`);
    const sortField = SORTS[(opts.sort?.split(',').find(s => s.startsWith('acq_')) ?? 'acq_max') as keyof typeof SORTS];
    const bpf = load({ rodata: { filter_pid: opts.pid ?? 0, filter_tid: opts.tid ?? 0, filter_lock: lock, per_thread: opts.perThread } });
    bpf.attachAll();
    process.stderr.write('klockstat: wait times at lock:contention_begin/end (contended acquisitions only): hold times need kprobes or fentry, which this kernel lacks\n');
    const stats = bpf.map<number, LockStat>('stat_map');
    banner('Tracing mutex/sem lock events...  Hit Ctrl-C to end');
    const { interval, count } = intervalSchedule(opts);
    const depth = Math.min(opts.stacks, 127);

    await intervals(interval, count, (_last, seconds) => {
      const rows = (opts.reset ? stats.drain() : stats.entries()).map(([key, s]) => {
        const frames = opts.perThread ? [] : bpf.stackIps('lock_stacks', key);
        const callers = lockCaller(ksyms, frames);
        return { key, s, callers };
      }).filter(r => opts.perThread || !opts.caller || (r.callers[0]?.name ?? '').startsWith(opts.caller) || r.callers.length === 0);
      rows.sort((a, b) => (a.s[sortField] > b.s[sortField] ? -1 : a.s[sortField] < b.s[sortField] ? 1 : 0));
      const shown = rows.slice(0, opts.locks ?? rows.length);
      if (json) {
        emit.counts(seconds, shown.map(r => ({
          ...(opts.perThread ? { tid: r.key, comm: r.s.acq_max_comm } : { caller: r.callers[0]?.text ?? 'Unknown', stack: r.callers.slice(0, depth).map(c => c.text).join(';') }),
          count: Number(r.s.acq_count), avg_wait_ns: Number(r.s.acq_total_time / r.s.acq_count),
          max_wait_ns: Number(r.s.acq_max_time), total_wait_ns: Number(r.s.acq_total_time),
          max_pid: Number(r.s.acq_max_id >> 32n), max_comm: r.s.acq_max_comm, max_lock: lockName(ksyms, r.s.acq_max_lock_ptr),
        })));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(sprintf('%-8s', strftimeHMS()));
      shown.forEach((r, i) => {
        if (i === 0 || depth > 1) out.line('\n' + (opts.perThread ? '                Tid              Comm' : '                               Caller') + '  Avg Wait    Count   Max Wait   Total Wait');
        const s = r.s;
        const label = opts.perThread ? sprintf('%u  %16s', r.key, s.acq_max_comm) : (r.callers[0]?.text ?? 'Unknown');
        out.line(sprintf('%37s %9s %8d %10s %12s', label, formatWaitTime(s.acq_total_time / s.acq_count), Number(s.acq_count),
          formatWaitTime(s.acq_max_time), formatWaitTime(s.acq_total_time)));
        if (opts.perThread) return;
        for (const c of r.callers.slice(1, depth)) out.line(sprintf('%37s', c.text));
        if (depth > 1) {
          out.line(`                              Max PID ${s.acq_max_id >> 32n}, COMM ${s.acq_max_comm}, Lock ${lockName(ksyms, s.acq_max_lock_ptr)} (0x${s.acq_max_lock_ptr.toString(16)})`);
        }
      });
    });
    if (!json) out.line('Exiting trace of mutex/sem locks');
  },
});
