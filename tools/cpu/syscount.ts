#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// syscount: count system calls (and, with -L, their total latency) by syscall or by process (-P).
// Port of BCC's syscount on the raw_syscalls tracepoints. Without -L only sys_exit is attached: the
// enter probe would cost every syscall for a start time nobody reads.
import os from 'node:os';
import { defineTool, intervalSchedule, opt, positiveInt, positiveSeconds, UsageError } from '../../lib/cli/index.js';
import { syscallName, syscallNames, syscallNumber } from '../../lib/host/syscalls.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 filter_pid = 0;
const volatile u32 filter_tid = 0;
const volatile u32 filter_ppid = 0;
const volatile s64 filter_nr = -1;
const volatile bool filter_failed = false;
const volatile s64 filter_errno = 0;
const volatile bool by_process = false;
const volatile bool latency = false;

struct data_t { u64 count; u64 total_ns; char comm[16]; };

BPF_HASH(start, u32, u64, 10240);              /* -L: by thread */
BPF_HASH(data, u32, struct data_t, 1024);      /* by syscall number, or by process with -P */

static __always_inline bool traced(u64 id, s64 nr)
{
	if (filter_nr >= 0 && nr != filter_nr)
		return false;
	if (filter_pid && id >> 32 != filter_pid)
		return false;
	if (filter_tid && (u32)id != filter_tid)
		return false;
	if (filter_ppid) {
		struct task_struct *t = (void *)bpf_get_current_task();
		if (BPF_CORE_READ(t, real_parent, tgid) != filter_ppid)
			return false;
	}
	return true;
}

TRACEPOINT_PROBE(raw_syscalls, sys_enter)
{
	u64 id = bpf_get_current_pid_tgid();
	if (!traced(id, args->id))
		return 0;
	u32 tid = id;
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(raw_syscalls, sys_exit)
{
	u64 id = bpf_get_current_pid_tgid();
	if (args->id < 0 || !traced(id, args->id))    /* id -1: not a syscall (an interrupted one's restart) */
		return 0;
	if ((filter_failed && args->ret >= 0) || (filter_errno && args->ret != -filter_errno))
		return 0;
	u64 elapsed = 0;
	if (latency) {
		u32 tid = id;
		u64 *ts = bpf_map_lookup_elem(&start, &tid);
		if (!ts)
			return 0;                              /* entered before we attached */
		elapsed = bpf_ktime_get_ns() - *ts;
	}
	u32 key = by_process ? id >> 32 : args->id;
	static const struct data_t zero;
	struct data_t *val = map_lookup_or_try_init(data, &key, &zero);
	if (!val)
		return 0;
	if (by_process && !val->comm[0])
		bpf_get_current_comm(&val->comm, sizeof(val->comm));
	__sync_fetch_and_add(&val->count, 1);
	if (latency)
		__sync_fetch_and_add(&val->total_ns, elapsed);
	return 0;
}
`;

interface Options {
  pid?: number;
  tid?: number;
  ppid?: number;
  interval?: number;
  duration?: number;
  top: number;
  failures: boolean;
  errno?: number;
  latency: boolean;
  milliseconds: boolean;
  process: boolean;
  list: boolean;
  syscall?: string;
}

/** BCC's -e: a number or a name (EPERM, ENOENT...). */
function errnoValue(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  if (/^-?\d+$/.test(s) && Number(s) !== 0) return Math.abs(Number(s));
  const n = (os.constants.errno as Record<string, number>)[s.toUpperCase()];
  if (n === undefined) throw new UsageError(`couldn't map ${s} to an errno`);
  return n;
}

interface Row { key: number; count: bigint; total_ns: bigint; comm: string }

/** A row's fields in --json: its key (a process or a syscall), its count, and with -L the time spent. */
const timeField = (o: Options) => (o.milliseconds ? 'total_ms' : 'total_us');
const rowFields = (o: Options) => [...(o.process ? ['pid', 'comm'] : ['syscall']), 'count', ...(o.latency ? [timeField(o)] : [])];

defineTool<Options>({
  name: 'syscount',
  subsystem: 'cpu',
  description: 'Summarize syscall counts and latencies',
  ports: { bcc: 'tools/syscount.py', 'libbpf-tools': 'libbpf-tools/syscount.bpf.c', bpftrace: 'tools/syscount.bt', book: 'chapter 13, Applications' },
  probes: { tracepoint: ['raw_syscalls/sys_enter', 'raw_syscalls/sys_exit'] },
  output: 'counts',
  invocations: [{ args: ['-d', '1'], ends: 'itself' }, { args: ['-L', '-P', '-d', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: o => ({ fields: rowFields(o) }),
  program,
  options: {
    pid: opt.pid('trace only this pid'),
    tid: opt.tid('trace only this tid'),
    ppid: opt.pid('trace only child of this pid', 'c'),
    interval: { alias: 'i', type: 'string', describe: 'print summary at this interval (seconds)', coerce: positiveSeconds('interval') },
    duration: opt.duration(),
    top: { alias: 'T', type: 'string', default: 10, describe: 'print only the top syscalls by count or latency', coerce: positiveInt('top') },
    failures: opt.flag('x', 'trace only failed syscalls (return < 0)'),
    errno: { alias: 'e', type: 'string', describe: 'trace only syscalls that return this error (numeric or EPERM, etc.)', coerce: errnoValue },
    latency: opt.flag('L', 'collect syscall latency'),
    milliseconds: opt.flag('m', 'display latency in milliseconds (default: microseconds)'),
    process: opt.flag('P', 'count by process and not by syscall'),
    list: opt.flag('l', 'print list of recognized syscalls and exit'),
    syscall: { type: 'string', describe: 'trace this syscall only (use option -l to get all recognized syscalls)' },
  },
  examples: [
    ['syscount', 'count syscalls until Ctrl-C, top 10'],
    ['syscount -p $(pidof dd)', 'look only at a particular process'],
    ['syscount -L', 'measure and sort output by latency'],
    ['syscount -P', 'group statistics by pid, not by syscall'],
    ['syscount -x -i 5', 'count only failed syscalls, every 5 seconds'],
    ['syscount -e ENOENT -i 5', 'count only syscalls failed with a given errno'],
    ['syscount --syscall getppid -P', 'which processes call getppid, and how often'],
  ],
  validate(o) {
    if ([o.pid, o.tid, o.ppid].filter(x => x !== undefined).length > 1) return 'use only one of -p, -t and -c';
    if (o.syscall !== undefined && syscallNumber(o.syscall) === undefined) return `syscall '${o.syscall}' not found (syscount -l lists them)`;
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    if (opts.list) {
      const names = syscallNames();
      for (let i = 0; i < names.length; i += 4) out.line(names.slice(i, i + 4).map(n => sprintf('%-22s', n)).join('   '));
      return;
    }
    const bpf = load({
      rodata: {
        filter_pid: opts.pid ?? 0, filter_tid: opts.tid ?? 0, filter_ppid: opts.ppid ?? 0,
        filter_nr: opts.syscall !== undefined ? syscallNumber(opts.syscall)! : -1,
        filter_failed: opts.failures, filter_errno: opts.errno ?? 0, by_process: opts.process, latency: opts.latency,
      },
      disable: opts.latency ? [] : ['tracepoint__raw_syscalls__sys_enter'],
    });
    bpf.attachAll();
    const data = bpf.map<number, Omit<Row, 'key'>>('data');
    const failed = opts.failures ? 'failed ' : '';
    banner(opts.syscall !== undefined
      ? `Tracing ${failed}syscall '${opts.syscall}'... Ctrl+C to quit.`
      : `Tracing ${failed}syscalls, printing top ${opts.top}... Ctrl+C to quit.`);

    const { interval, count } = intervalSchedule(opts); // -d alone prints once, at its end
    const unitDiv = opts.milliseconds ? 1e6 : 1e3;
    const keyColumn = opts.process ? 'PID    COMM' : 'SYSCALL';
    const timeColumn = opts.milliseconds ? 'TIME (ms)' : 'TIME (us)';

    await intervals(interval, count, (_last, seconds) => {
      const rows: Row[] = data.drain().map(([key, v]) => ({ key, ...v }));
      const by = (r: Row) => (opts.latency ? r.total_ns : r.count);
      rows.sort((a, b) => (by(b) > by(a) ? 1 : by(b) < by(a) ? -1 : 0));
      const top = rows.slice(0, opts.top);
      if (json) {
        emit.counts(seconds, top.map(r => ({
          ...(opts.process ? { pid: r.key, comm: r.comm } : { syscall: syscallName(r.key) }),
          count: Number(r.count),
          ...(opts.latency ? { [timeField(opts)]: Number(r.total_ns) / unitDiv } : {}),
        })));
        return;
      }
      out.line(`[${strftimeHMS()}]`);
      out.line(opts.latency ? sprintf('%-22s %8s %16s', keyColumn, 'COUNT', timeColumn) : sprintf('%-22s %8s', keyColumn, 'COUNT'));
      for (const r of top) {
        const key = opts.process ? sprintf('%-6d %-15s', r.key, r.comm) : syscallName(r.key);
        if (opts.latency) out.line(sprintf(opts.milliseconds ? '%-22s %8d %16.6f' : '%-22s %8d %16.3f', key, Number(r.count), Number(r.total_ns) / unitDiv));
        else out.line(sprintf('%-22s %8d', key, Number(r.count)));
      }
      out.line('');
    });
    if (!json) out.line('Detaching...');
  },
});
