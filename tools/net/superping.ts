#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// superping: ICMP echo (ping) round trips timed inside the kernel's network stack, from the echo
// request being queued to a device to its reply being received, one line per reply, IPv4 and IPv6.
// Port of the book's superping.bt (BPF Performance Tools, chapter 10).
//
// The book uses kprobes on ip_send_skb/ip6_send_skb and icmp_rcv/icmpv6_rcv; this kernel has none, so
// it times at net:net_dev_queue (the request handed to a device: its headers are set) and
// net:netif_receive_skb (the reply from a device, read from skb->data: the link header is pulled by
// then), as BTF tracepoints or raw tracepoints, matching requests and replies by ICMP identifier and
// sequence as the book does.
import { defineTool } from '../../lib/cli/index.js';

const program = `
#include <bpfkit.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_ICMP 1
#define IPPROTO_ICMPV6 58
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

struct echo_key { u16 family; u16 id; u16 seq; };
struct echo_hdr { u8 type; u8 code; u16 checksum; u16 id; u16 seq; };

struct event {
	u64 delta_ns;
	u16 ipv6;
	u16 id;
	u16 seq;
};

BPF_HASH(start, struct echo_key, u64, 10240);
BPF_RINGBUF_OUTPUT(events, 16);
BPFKIT_EXPORT_TYPE(struct event);

/* The ICMP header of an IPv4 or IPv6 packet at ip (IPv6: without extension headers, as ping sends),
 * and which family; false when it is no ICMP packet. */
static __always_inline bool icmp_at(struct sk_buff *skb, unsigned char *ip, struct echo_hdr *h, u16 *ipv6)
{
	u16 proto = __builtin_bswap16(BPF_CORE_READ(skb, protocol));
	u8 first = 0, next = 0;
	bpf_probe_read_kernel(&first, 1, ip);
	if (proto == ETH_P_IP) {
		bpf_probe_read_kernel(&next, 1, ip + 9);
		if (next != IPPROTO_ICMP)
			return false;
		*ipv6 = 0;
		return bpf_probe_read_kernel(h, sizeof(*h), ip + (first & 15) * 4) == 0;
	}
	if (proto == ETH_P_IPV6) {
		bpf_probe_read_kernel(&next, 1, ip + 6);
		if (next != IPPROTO_ICMPV6)
			return false;
		*ipv6 = 1;
		return bpf_probe_read_kernel(h, sizeof(*h), ip + 40) == 0;
	}
	return false;
}

static __always_inline int queued(struct sk_buff *skb)
{
	struct echo_hdr h = {};
	u16 ipv6;
	if (!icmp_at(skb, BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, network_header), &h, &ipv6))
		return 0;
	if (h.type != (ipv6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO))
		return 0;
	struct echo_key key = { .family = ipv6, .id = h.id, .seq = h.seq };
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
	return 0;
}

static __always_inline int received(void *ctx, struct sk_buff *skb)
{
	struct echo_hdr h = {};
	u16 ipv6;
	if (!icmp_at(skb, BPF_CORE_READ(skb, data), &h, &ipv6))
		return 0;
	if (h.type != (ipv6 ? ICMPV6_ECHO_REPLY : ICMP_ECHOREPLY))
		return 0;
	struct echo_key key = { .family = ipv6, .id = h.id, .seq = h.seq };
	u64 *tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &key);
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	e->delta_ns = delta;
	e->ipv6 = ipv6;
	e->id = __builtin_bswap16(h.id);
	e->seq = __builtin_bswap16(h.seq);
	ringbuf_submit(events, e);
	return 0;
}

BTF_TRACEPOINT_PROBE(net_dev_queue, dev_queue, queued(skb), struct sk_buff *skb)
BTF_TRACEPOINT_PROBE(netif_receive_skb, receive_skb, received(ctx, skb), struct sk_buff *skb)
`;

interface EchoEvent { delta_ns: bigint; ipv6: number; id: number; seq: number }

defineTool<Record<string, never>>({
  name: 'superping',
  subsystem: 'net',
  description: 'Trace ICMP echo round trips within the kernel network stack',
  ports: { book: 'originals/Ch10_Networking/superping.bt' },
  probes: { tp_btf: ['net_dev_queue', 'netif_receive_skb'], raw_tp: ['net_dev_queue', 'netif_receive_skb'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c', quiet: 'only while something pings' }],
  records: () => ({ fields: ['ip', 'id', 'seq', 'latency_us'] }),
  program,
  options: {},
  examples: [['superping', 'trace ICMP echo round trips (ping) inside the kernel']],

  async run({ load, out, json, emit, banner, untilExit }) {
    const bpf = load();
    bpf.attachAll();
    process.stderr.write('superping: timed at net:net_dev_queue and net:netif_receive_skb: this kernel has no kprobes for ip_send_skb() and icmp_rcv()\n');
    banner('Tracing ICMP ping latency. Hit Ctrl-C to end.');
    bpf.events<EchoEvent>('events', 'event', e => {
      const us = Math.floor(Number(e.delta_ns) / 1000);
      const ip = e.ipv6 ? 6 : 4;
      if (json) emit.event({ ip, id: e.id, seq: e.seq, latency_us: us });
      else out.line(`IPv${ip} ping, ID ${e.id} seq ${e.seq}: ${us} us`);
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`superping: lost ${lost} events\n`);
  },
});
