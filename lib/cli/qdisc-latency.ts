// The skeleton of the book's qdisc-* tools (BPF Performance Tools, chapter 10: qdisc-fq, qdisc-fq_codel,
// qdisc-tbf, ...): the time packets wait in one kind of queueing discipline, as a power-of-2 histogram
// of microseconds in bpftrace's format. The book takes it with a kprobe on the qdisc's enqueue function
// and a kretprobe on its dequeue; this kernel has no kprobes, so it is taken at the qdisc:qdisc_enqueue
// and qdisc:qdisc_dequeue tracepoints (as BTF tracepoints, or raw tracepoints), keyed by the skb and
// kept to the root qdiscs whose ops->id is that kind. A tool gives the kind and its kernel function.
import { defineTool, intervalCount, opt, type ToolSpec } from './index.js';
import { bpftraceLog2Tick } from './bpftrace-hist.js';

const program = `
#include <bpfkit_netdev.h>   /* targ_ifname, netdev_wanted(), IFNAMSIZ */

const volatile char targ_kind[IFNAMSIZ] = {};   /* the qdisc's ops->id: "tbf", "fq", ... */

BPF_HASH(start, struct sk_buff *, u64, 10240);
BPF_HISTOGRAM(us, u32);

static __always_inline bool wanted_qdisc(struct Qdisc *q)
{
	char id[IFNAMSIZ] = {};
	bpf_probe_read_kernel_str(id, sizeof(id), BPF_CORE_READ(q, ops, id));
	for (int i = 0; i < IFNAMSIZ; i++) {
		if (id[i] != targ_kind[i])
			return false;
		if (!id[i])
			break;
	}
	return netdev_wanted(BPF_CORE_READ(q, dev_queue, dev));
}

static __always_inline int enqueue(struct Qdisc *q, struct sk_buff *skb)
{
	if (!wanted_qdisc(q))
		return 0;
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &skb, &ts, BPF_ANY);
	return 0;
}

/* The dequeued skbs: the first, and the rest of a bulk dequeue on its ->next list */
#define MAX_BULK 16

static __always_inline int dequeue(struct Qdisc *q, int packets, struct sk_buff *skb)
{
	if (!skb || !wanted_qdisc(q))
		return 0;
	u64 now = bpf_ktime_get_ns();
	for (int i = 0; i < MAX_BULK && skb && i < packets; i++) {
		u64 *tsp = bpf_map_lookup_elem(&start, &skb);
		if (tsp) {
			u64 delta = (now - *tsp) / 1000;
			/* bpftrace's hist(): slot 0 holds 0, slot k the values 2^(k-1) .. 2^k - 1 */
			u32 slot = delta ? bpf_log2l(delta) : 0;
			bpf_map_delete_elem(&start, &skb);
			map_increment(us, slot);
		}
		skb = BPF_CORE_READ(skb, next);
	}
	return 0;
}

BTF_TRACEPOINT_PROBE(qdisc_enqueue, qdisc_enqueue, enqueue(q, skb), struct Qdisc *q, const struct netdev_queue *txq, struct sk_buff *skb)
BTF_TRACEPOINT_PROBE(qdisc_dequeue, qdisc_dequeue, dequeue(q, packets, skb), struct Qdisc *q, const struct netdev_queue *txq, int packets, struct sk_buff *skb)
`;

interface QdiscLatencyOptions {
  nic?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

export interface QdiscLatencyTool {
  /** The qdisc's ops->id, as `tc qdisc add ... <kind>` names it: "tbf", "fq_codel". */
  kind: string;
  /** Its name in the book's banner ("tbf", "fq_codel", "CBQ"). */
  title: string;
  /** Its enqueue function (the book's kprobe), in /proc/kallsyms when the qdisc is built in or loaded. */
  enqueueFunction: string;
  /** Why it may be missing, beyond not being built or loaded ("removed in Linux 6.3"). */
  note?: string;
}

export function defineQdiscLatencyTool(t: QdiscLatencyTool): ToolSpec<QdiscLatencyOptions> {
  const name = `qdisc-${t.kind}`;
  const module = `sch_${t.kind}`;
  return defineTool<QdiscLatencyOptions>({
    name,
    subsystem: 'net',
    description: `Summarize ${t.title} qdisc queue latency as a histogram`,
    ports: { book: `originals/Ch10_Networking/${name}.bt` },
    probes: { tp_btf: ['qdisc_dequeue', 'qdisc_enqueue'], raw_tp: ['qdisc_dequeue', 'qdisc_enqueue'] },
    requires: { driver: `${t.kind} qdisc (${module}${t.note ? `, ${t.note}` : ''})`, functions: [t.enqueueFunction] },
    output: 'histogram',
    // where the qdisc is a module, it is there once loaded (tc loads it)
    invocations: [{ args: ['1', '1'], ends: 'itself', ...(t.kind === 'tbf' ? {} : { needs: `/sys/module/${module}` }) }],
    records: () => ({}),
    program,
    options: {
      nic: opt.nic('trace this network interface\'s qdisc only (its name, in any network namespace)'),
      timestamp: opt.flag('T', 'include timestamp on output'),
    },
    positional: '[interval] [count]',
    examples: [
      [name, `${t.title} queue latency, printed at Ctrl-C`],
      [`${name} -n eth0 1 10`, 'eth0\'s only, 1 second summaries, 10 times'],
    ],

    async run({ opts, load, out, json, emit, banner, intervals }) {
      const { interval, count } = intervalCount(opts);
      const bpf = load({ rodata: { targ_kind: t.kind, targ_ifname: opts.nic ?? '' } });
      bpf.attachAll();
      const hist = bpf.histogram('us');
      process.stderr.write(`${name}: timed at qdisc:qdisc_enqueue and qdisc:qdisc_dequeue (root qdiscs): this kernel has no kprobes for ${t.enqueueFunction}()\n`);
      banner(`Tracing qdisc ${t.title} latency. Hit Ctrl-C to end.`);
      await intervals(interval, count, bpftraceLog2Tick(hist, 'us', 'usecs', { out, json, emit, timestamp: opts.timestamp }));
    },
  });
}
