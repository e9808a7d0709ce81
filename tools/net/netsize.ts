#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// netsize: net device I/O sizes as power-of-2 histograms of bytes: what the stack receives
// (netif_receive_skb) and queues to send (net_dev_queue), and what the NIC hands over (napi_gro_receive_entry)
// and transmits (net_dev_xmit). Port of the book's netsize.bt (BPF Performance Tools, chapter 10), in
// its format (bpftrace's hist()); bpfkit adds -n NIC and [interval] [count].
//
// Probes, as BTF tracepoints (or raw tracepoints), given the `struct sk_buff *`: the tracepoints' own
// len field is skb->len, and net_dev_xmit's the skb_len argument (the skb may be freed by then).
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { bpftraceLog2SectionsJson, formatBpftraceLog2, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_netdev.h>   /* targ_ifname, netdev_wanted() */

enum { NIC_RECV, NIC_SEND, RECV, SEND };

struct size_key { u32 which; u32 slot; };
BPF_HISTOGRAM(sizes, struct size_key);

/* bpftrace's hist(): slot 0 holds 0, slot k the values 2^(k-1) .. 2^k - 1 */
static __always_inline int count_size(u32 which, struct net_device *dev, u32 len)
{
	if (!netdev_wanted(dev))
		return 0;
	struct size_key key = { .which = which, .slot = len ? bpf_log2l(len) : 0 };
	map_increment(sizes, key);
	return 0;
}

BTF_TRACEPOINT_PROBE(netif_receive_skb, receive_skb, count_size(RECV, BPF_CORE_READ(skb, dev), BPF_CORE_READ(skb, len)), struct sk_buff *skb)
BTF_TRACEPOINT_PROBE(net_dev_queue, dev_queue, count_size(SEND, BPF_CORE_READ(skb, dev), BPF_CORE_READ(skb, len)), struct sk_buff *skb)
BTF_TRACEPOINT_PROBE(napi_gro_receive_entry, gro_receive, count_size(NIC_RECV, BPF_CORE_READ(skb, dev), BPF_CORE_READ(skb, len)), struct sk_buff *skb)
BTF_TRACEPOINT_PROBE(net_dev_xmit, dev_xmit, count_size(NIC_SEND, dev, skb_len), struct sk_buff *skb, int rc, struct net_device *dev, unsigned int skb_len)
`;

interface Options {
  nic?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

/** The book's map names, in the order bpftrace prints them (by name). */
const HISTOGRAMS = ['nic_recv_bytes', 'nic_send_bytes', 'recv_bytes', 'send_bytes'];

defineTool<Options>({
  name: 'netsize',
  subsystem: 'net',
  description: 'Summarize net device send and receive sizes as histograms',
  ports: { book: 'originals/Ch10_Networking/netsize.bt' },
  probes: {
    tp_btf: ['net_dev_queue', 'net_dev_xmit', 'napi_gro_receive_entry', 'netif_receive_skb'],
    raw_tp: ['net_dev_queue', 'net_dev_xmit', 'napi_gro_receive_entry', 'netif_receive_skb'],
  },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-n', 'lo'], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'histogram' }),
  program,
  options: {
    nic: opt.nic('trace this network interface only (its name, in any network namespace)'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['netsize', 'net device I/O sizes, printed at Ctrl-C'],
    ['netsize -n eth0', 'eth0 only'],
    ['netsize -T 1 5', 'print 1 second summaries, 5 times, with timestamps'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_ifname: opts.nic ?? '' } });
    bpf.attachAll();
    const hist = bpf.histogram('sizes');
    banner('Tracing net device send/receive. Hit Ctrl-C to end.');
    await intervals(interval, count, () => {
      const byName = new Map(hist.read(true).sections.map(s => [HISTOGRAMS[Number(s.key)]!, s.slots]));
      const present = HISTOGRAMS.filter(name => byName.has(name));
      if (json) {
        emit.histogram(bpftraceLog2SectionsJson(present.map(name => ({ key: name, slots: byName.get(name)! })), 'bytes', 'histogram'));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      for (const name of present) out.write(formatBpftraceLog2(byName.get(name)!, name));
    });
  },
});
