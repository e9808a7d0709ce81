#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// ipecn: inbound IPv4 packets marked ECN Congestion Encountered (both ECN bits of the TOS byte set), one
// line each with the sender. Port of the book's ipecn.bt (BPF Performance Tools, chapter 10); bpfkit adds
// -n NIC.
//
// The book reads the IP header at a kprobe on ip_rcv(); this kernel has no kprobes, so it is read at
// net:netif_receive_skb (as a BTF tracepoint, or a raw tracepoint), given the `struct sk_buff *`: before
// the protocol handlers, with skb->data at the network header (the link header is pulled by then) and
// skb->protocol saying whether it is IPv4.
import { defineTool, opt } from '../../lib/cli/index.js';
import { formatIp, AF_INET } from '../../lib/host/net.js';
import { strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_netdev.h>   /* targ_ifname, netdev_wanted() */

#define ETH_P_IP 0x0800
#define INET_ECN_MASK 3
#define INET_ECN_CE 3

struct event {
	u8 saddr[4];
	u8 daddr[4];
};

BPF_RINGBUF_OUTPUT(events, 16);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline int receive(void *ctx, struct sk_buff *skb)
{
	if (BPF_CORE_READ(skb, protocol) != __builtin_bswap16(ETH_P_IP))
		return 0;
	struct iphdr ip = {};
	bpf_probe_read_kernel(&ip, sizeof(ip), BPF_CORE_READ(skb, data));
	if ((ip.tos & INET_ECN_MASK) != INET_ECN_CE || !netdev_wanted(BPF_CORE_READ(skb, dev)))
		return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	__builtin_memcpy(e->saddr, &ip.saddr, 4);
	__builtin_memcpy(e->daddr, &ip.daddr, 4);
	ringbuf_submit(events, e);
	return 0;
}

BTF_TRACEPOINT_PROBE(netif_receive_skb, receive_skb, receive(ctx, skb), struct sk_buff *skb)
`;

interface Options {
  nic?: string;
}

interface EcnEvent { saddr: number[]; daddr: number[] }

defineTool<Options>({
  name: 'ipecn',
  subsystem: 'net',
  description: 'Trace inbound IPv4 packets marked ECN Congestion Encountered',
  ports: { book: 'originals/Ch10_Networking/ipecn.bt' },
  probes: { tp_btf: ['netif_receive_skb'], raw_tp: ['netif_receive_skb'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-n', 'lo'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['saddr', 'daddr'] }),
  program,
  options: {
    nic: opt.nic('trace packets received on this network interface only (its name, in any network namespace)'),
  },
  examples: [
    ['ipecn', 'trace inbound ECN CE marks'],
    ['ipecn -n eth0', 'received on eth0 only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_ifname: opts.nic ?? '' } });
    bpf.attachAll();
    process.stderr.write('ipecn: IP headers read at net:netif_receive_skb: this kernel has no kprobes for ip_rcv()\n');
    banner('Tracing inbound IPv4 ECN Congestion Encountered. Hit Ctrl-C to end.');
    bpf.events<EcnEvent>('events', 'event', e => {
      const saddr = formatIp(AF_INET, e.saddr);
      if (json) emit.event({ saddr, daddr: formatIp(AF_INET, e.daddr) });
      else out.line(`${strftimeHMS()} ECN CE from: ${saddr}`);
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`ipecn: lost ${lost} events\n`);
  },
});
