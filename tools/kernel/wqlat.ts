#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// wqlat: kernel workqueue latency, from a work item's queueing to the start of its execution, as a
// log2 histogram (BCC's wqlat: -T, -N, -W per workqueue, -w WQNAME, interval and count), at the
// workqueue:workqueue_queue_work and workqueue_execute_start tracepoints, the work item's address
// pairing them. bpfkit adds -m (milliseconds) and -f FUNCTION (work items of that kernel function).
import { defineTool, intervalCount, opt, UsageError } from '../../lib/cli/index.js';
import { workFunctionAddress } from '../../lib/host/workqueue.js';

const WQ_NAME_LEN = 24;

const program = `
#include <bpfkit.h>

#define WQ_NAME_LEN ${WQ_NAME_LEN}

const volatile char targ_wq[WQ_NAME_LEN] = {};   /* -w: this workqueue only; empty: all */
const volatile u64 targ_function = 0;            /* -f: work items of this function only */
const volatile bool per_wq = false;              /* -W */
const volatile u64 factor = 1000;                /* ns per unit */

struct wq_val { char wq_name[WQ_NAME_LEN]; u64 ts; };
BPF_HASH(start, u64, struct wq_val, 10240);      /* by work item address */

struct wq_key { char wq_name[WQ_NAME_LEN]; u64 slot; };
BPF_HISTOGRAM(dist);
BPF_HISTOGRAM(dist_wq, struct wq_key);

static __always_inline bool wq_wanted(const char *name)
{
	for (int i = 0; i < WQ_NAME_LEN; i++) {
		if (name[i] != targ_wq[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

TRACEPOINT_PROBE(workqueue, workqueue_queue_work)
{
	if (targ_function && (u64)args->function != targ_function)
		return 0;
	struct wq_val v = {};
	TP_DATA_LOC_READ_STR(&v.wq_name, workqueue, sizeof(v.wq_name));
	if (targ_wq[0] && !wq_wanted(v.wq_name))
		return 0;
	u64 work = (u64)args->work;
	v.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &work, &v, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(workqueue, workqueue_execute_start)
{
	u64 work = (u64)args->work;
	struct wq_val *v = bpf_map_lookup_elem(&start, &work);
	if (!v)
		return 0;   /* queued before we attached, or filtered out */
	u64 delta = (bpf_ktime_get_ns() - v->ts) / factor;
	if (per_wq) {
		struct wq_key key = { .slot = bpf_log2l(delta) };
		__builtin_memcpy(key.wq_name, v->wq_name, sizeof(key.wq_name));
		map_increment(dist_wq, key);
	} else {
		map_increment(dist, bpf_log2l(delta));
	}
	bpf_map_delete_elem(&start, &work);
	return 0;
}
`;

/** -W: a histogram per workqueue, its section header (text and --json). */
const WQ_SECTION_BY = 'wqname';

interface Options {
  timestamp: boolean;
  nanoseconds: boolean;
  milliseconds: boolean;
  workqueues: boolean;
  wqname?: string;
  function?: string;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'wqlat',
  subsystem: 'kernel',
  description: 'Summarize kernel workqueue latency as a histogram',
  ports: { bcc: 'tools/wqlat.py' },
  probes: { tracepoint: ['workqueue/workqueue_queue_work', 'workqueue/workqueue_execute_start'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-W', '1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: o => ({ sectionBy: o.workqueues ? WQ_SECTION_BY : undefined }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    nanoseconds: opt.flag('N', 'output in nanoseconds'),
    milliseconds: opt.flag('m', 'output in milliseconds'),
    workqueues: opt.flag('W', 'print a histogram per work queue'),
    wqname: opt.str('w', 'print this workqueue only'),
    function: opt.str('f', 'trace work items of this kernel function only'),
  },
  positional: '[interval] [count]',
  examples: [
    ['wqlat', 'summarize workqueue latency as a histogram'],
    ['wqlat 1 10', 'print 1 second summaries, 10 times'],
    ['wqlat -W 1 10', 'print 1 second, 10 times per workqueue'],
    ['wqlat -NT 1', '1s summaries, nanoseconds, and timestamps'],
    ['wqlat -w nvmet_tcp_wq 1', '1s summaries for workqueue nvmet_tcp_wq'],
    ['wqlat -f vmstat_update', 'the latency of vmstat_update work items only'],
  ],
  validate(o) {
    if (o.wqname !== undefined && (o.wqname === '' || Buffer.byteLength(o.wqname) >= WQ_NAME_LEN)) return `workqueue name len must be less than ${WQ_NAME_LEN}`;
    if (o.nanoseconds && o.milliseconds) return 'use only one of -N and -m';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const [factor, label] = opts.nanoseconds ? [1, 'nsecs'] : opts.milliseconds ? [1e6, 'msecs'] : [1e3, 'usecs'];
    const fn = opts.function === undefined ? 0n : workFunctionAddress(opts.function);
    if (fn === undefined) throw new UsageError(`no kernel function '${opts.function}'`);
    const bpf = load({ rodata: { targ_wq: opts.wqname ?? '', targ_function: fn, per_wq: opts.workqueues, factor } });
    bpf.attachAll();
    const hist = bpf.histogram(opts.workqueues ? 'dist_wq' : 'dist');
    banner('Tracing work queue request latency time... Hit Ctrl-C to end.');
    await intervals(interval, count, () => hist.printInterval({ out, emit, json }, label, { sectionHeader: WQ_SECTION_BY }, { timestamp: opts.timestamp }));
  },
});
