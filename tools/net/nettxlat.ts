#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// nettxlat: net device transmit latency as a power-of-2 histogram of microseconds: from the stack
// handing a packet to the driver (net_dev_start_xmit) to the packet being freed as sent (consume_skb).
// Port of the book's nettxlat.bt and, with -d, nettxlat-dev.bt (a histogram per device) (BPF Performance
// Tools, chapter 10), in bpftrace's format; bpfkit adds -n NIC and [interval] [count].
//
// Probes, as BTF tracepoints (or raw tracepoints), keyed by the `struct sk_buff *`: net_dev_start_xmit
// starts the clock, consume_skb stops it, and net_dev_queue forgets a start (the skb is queued again:
// its address is reused). A device that hands its packets on rather than freeing them (veth: to its
// peer) stops the clock where the peer's stack consumes the packet.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { bpftraceLog2SectionsJson, bpftraceLog2ToBcc, formatBpftraceLog2, log2HistJson, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_netdev.h>   /* targ_ifname, netdev_wanted(), IFNAMSIZ */

const volatile bool targ_per_dev = false;

struct lat_key { char dev[IFNAMSIZ]; u32 slot; };
struct start_val { u64 ts; char dev[IFNAMSIZ]; };

BPF_HASH(start, struct sk_buff *, struct start_val, 10240);
BPF_HISTOGRAM(us, struct lat_key);

static __always_inline int start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	if (!netdev_wanted(dev))
		return 0;
	struct start_val val = { .ts = bpf_ktime_get_ns() };
	/* the device it is sent on, now: by consume_skb the skb may have none (a veth peer's stack cleared it) */
	if (targ_per_dev)
		bpf_probe_read_kernel_str(val.dev, sizeof(val.dev), &dev->name);
	bpf_map_update_elem(&start, &skb, &val, BPF_ANY);
	return 0;
}

static __always_inline int consumed(struct sk_buff *skb)
{
	struct start_val *val = bpf_map_lookup_elem(&start, &skb);
	if (!val)
		return 0;
	u64 delta = (bpf_ktime_get_ns() - val->ts) / 1000;
	/* bpftrace's hist(): slot 0 holds 0, slot k the values 2^(k-1) .. 2^k - 1 */
	struct lat_key key = { .slot = delta ? bpf_log2l(delta) : 0 };
	__builtin_memcpy(key.dev, val->dev, sizeof(key.dev));
	bpf_map_delete_elem(&start, &skb);
	map_increment(us, key);
	return 0;
}

static __always_inline int queued(struct sk_buff *skb)
{
	bpf_map_delete_elem(&start, &skb);   /* avoid timestamp reuse (the book's comment) */
	return 0;
}

BTF_TRACEPOINT_PROBE(net_dev_start_xmit, start_xmit, start_xmit(skb, dev), struct sk_buff *skb, struct net_device *dev)
BTF_TRACEPOINT_PROBE(consume_skb, consume_skb, consumed(skb), struct sk_buff *skb, void *location)
BTF_TRACEPOINT_PROBE(net_dev_queue, dev_queue, queued(skb), struct sk_buff *skb)
`;

interface Options {
  devices: boolean;
  nic?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'nettxlat',
  subsystem: 'net',
  description: 'Summarize net device transmit latency as a histogram',
  ports: { book: 'originals/Ch10_Networking/nettxlat.bt, nettxlat-dev.bt' },
  probes: {
    tp_btf: ['consume_skb', 'net_dev_queue', 'net_dev_start_xmit'],
    raw_tp: ['consume_skb', 'net_dev_queue', 'net_dev_start_xmit'],
  },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-d'], ends: 'ctrl-c' }],
  records: o => ({ sectionBy: o.devices ? 'device' : undefined }),
  program,
  options: {
    devices: opt.flag('d', 'a histogram per device (the book\'s nettxlat-dev)'),
    nic: opt.nic('trace this network interface only (its name, in any network namespace)'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['nettxlat', 'net device transmit latency, printed at Ctrl-C'],
    ['nettxlat -d', 'a histogram per device'],
    ['nettxlat -n eth0 1 5', 'eth0 only, 1 second summaries, 5 times'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_ifname: opts.nic ?? '', targ_per_dev: opts.devices } });
    bpf.attachAll();
    const hist = bpf.histogram('us');
    banner('Tracing net device xmit queue latency. Hit Ctrl-C to end.');
    await intervals(interval, count, () => {
      const sections = hist.read(true).sections.map(s => ({ dev: String(s.key), slots: s.slots }));
      sections.sort((a, b) => a.dev.localeCompare(b.dev));
      if (json) {
        if (opts.devices) emit.histogram(bpftraceLog2SectionsJson(sections.map(s => ({ key: s.dev, slots: s.slots })), 'usecs', 'device'));
        else emit.histogram(log2HistJson(bpftraceLog2ToBcc(sections[0]?.slots ?? []), 'usecs'));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      for (const s of sections) out.write(formatBpftraceLog2(s.slots, 'us', opts.devices ? s.dev : undefined));
    });
  },
});
