// bench/wave-netdev: the per-event cost (bpf_stats: run_time_ns / run_cnt of their programs) of the net
// device tools on a UDP workload over loopback, in a network namespace of its own: 20,000 datagrams of
// 200 bytes to a receiver (and, for skbdrop, 5,000 to a port nothing listens on: NO_SOCKET drops). Where
// the book's tool is a bpftrace script whose probes load here (netsize, nettxlat, skbdrop), it runs side
// by side with ours on the same packets, as bpftrace text written after the book's, and the ratio is
// ours / bpftrace's. netqtop (BCC's: Python, not here), ipecn, qdisc-tbf, skblife and superping (the
// book's use kprobes) run alone; superping on 2,000 echo requests over lo from a raw socket.
import { spawnSync } from 'node:child_process';
import { bpftrace, measure, ours, withBpfStats } from './lib/bpf-stats.js';

const NS = `bkbench${process.pid}`;
const ip = (...args: string[]) => spawnSync('ip', args, { stdio: 'ignore' });

/** `count` datagrams of 200 bytes over lo in the namespace (IP_TOS 3: CE-marked, for ipecn), to a receiver or to a closed port. */
function datagrams(count: number, o: { closedPort?: boolean } = {}): () => void {
  return () => void spawnSync('ip', ['netns', 'exec', NS, 'python3', '-c', `import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 9500)); r.setblocking(False)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 3)
port = ${o.closedPort ? 9501 : 9500}
for i in range(${count}):
    c.sendto(b"x" * 200, ("127.0.0.1", port))
    try:
        r.recv(512)
    except BlockingIOError:
        pass`], { stdio: 'ignore' });
}

/** `count` ICMP echo requests to 127.0.0.1 in the namespace from a raw socket, each answered by the kernel. */
function pings(count: number): () => void {
  return () => void spawnSync('ip', ['netns', 'exec', NS, 'python3', '-c', `import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(5)
for seq in range(${count}):
    body = struct.pack("!BBHHH", 8, 0, 0, 7, seq) + b"x" * 56
    t = sum(struct.unpack("!%dH" % (len(body) // 2), body)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    s.sendto(body[:2] + struct.pack("!H", ~t & 0xffff) + body[4:], ("127.0.0.1", 0)); s.recv(2048); s.recv(2048)`], { stdio: 'ignore' });
}

const NETSIZE_BT = `BEGIN { printf("Tracing net device send/receive. Hit Ctrl-C to end.\\n"); }
tracepoint:net:netif_receive_skb { @recv_bytes = hist(args->len); }
tracepoint:net:net_dev_queue { @send_bytes = hist(args->len); }
tracepoint:net:napi_gro_receive_entry { @nic_recv_bytes = hist(args->len); }
tracepoint:net:net_dev_xmit { @nic_send_bytes = hist(args->len); }`;

const NETTXLAT_BT = `BEGIN { printf("Tracing net device xmit queue latency. Hit Ctrl-C to end.\\n"); }
tracepoint:net:net_dev_start_xmit { @start[args->skbaddr] = nsecs; }
tracepoint:skb:consume_skb /@start[args->skbaddr]/ { @us = hist((nsecs - @start[args->skbaddr]) / 1000); delete(@start[args->skbaddr]); }
tracepoint:net:net_dev_queue { delete(@start[args->skbaddr]); }
END { clear(@start); }`;

const SKBDROP_BT = `BEGIN { printf("Tracing unusual skb drop stacks. Hit Ctrl-C to end.\\n"); }
tracepoint:skb:kfree_skb { @[kstack(8)] = count(); }`;

ip('netns', 'add', NS);
ip('-n', NS, 'link', 'set', 'lo', 'up');
try {
  const lines = await withBpfStats(async () => [
    await measure('netsize (netif_receive_skb, net_dev_queue, net_dev_xmit)', [ours('netsize'), bpftrace('netsize.bt', ['-e', NETSIZE_BT])], datagrams(20000)),
    await measure('nettxlat (net_dev_start_xmit, consume_skb, net_dev_queue)', [ours('nettxlat'), bpftrace('nettxlat.bt', ['-e', NETTXLAT_BT])], datagrams(20000)),
    await measure('skbdrop (skb:kfree_skb with a stack; NO_SOCKET drops)', [ours('skbdrop'), bpftrace('skbdrop.bt', ['-e', SKBDROP_BT])], datagrams(5000, { closedPort: true })),
    await measure('netqtop -n lo (net_dev_start_xmit, netif_receive_skb; BCC\'s is Python: not here)', [ours('netqtop', ['-n', 'lo'])], datagrams(20000), /Hit Ctrl-C/),
    await measure('ipecn (netif_receive_skb, every datagram CE-marked; the book\'s needs a kprobe)', [ours('ipecn')], datagrams(20000)),
    await measure('skblife (kmem_cache_alloc, kmem_cache_free: every slab object of the machine; the book\'s needs kprobes)', [ours('skblife')], datagrams(5000, { closedPort: true })),
    await measure('superping (net_dev_queue, netif_receive_skb; the book\'s needs kprobes)', [ours('superping')], pings(2000)),
  ]);
  // a tbf on the namespace's lo, fast enough to hold nothing for long: every datagram enqueued and dequeued
  ip('netns', 'exec', NS, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '10gbit', 'burst', '1mb', 'limit', '10mb');
  lines.push(await withBpfStats(() => measure('qdisc-tbf (qdisc_enqueue, qdisc_dequeue, on a tbf; the book\'s needs kprobes)', [ours('qdisc-tbf')], datagrams(20000))));
  for (const l of lines) process.stdout.write(`wave-netdev: ${l}\n`);
} finally {
  ip('netns', 'del', NS);
}
