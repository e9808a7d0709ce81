#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcpdrop: TCP packets the kernel drops, with the socket's state, the packet's flags, the drop reason and
// the kernel stack (BCC's tcpdrop). BCC's own fallback where tcp_drop() is gone: skb:kfree_skb with a
// reason above NOT_SPECIFIED (read from this kernel's BTF, as the reasons' names are), for packets that
// belong to a TCP socket (the skb's, or the receiving socket the 6.x tracepoint names); the addresses and
// ports are the packet's own headers.
import fs from 'node:fs';
import { defineTool, opt } from '../../lib/cli/index.js';
import { UsageError } from '../../lib/cli/options.js';
import { dropReasonNames, familyFilter, sessionAddrs, tcpStateName } from '../../lib/host/net.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { StackReader } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit_net.h>   /* AF_*, IPPROTO_TCP, sock_netns() */

const volatile u16 targ_family = 0;
const volatile u32 targ_netns = 0;

struct event {
	u32 pid;
	u32 reason;
	int stack_id;
	u16 family;
	u16 sport;
	u16 dport;
	u8 state;
	u8 tcpflags;
	u8 saddr[16];
	u8 daddr[16];
};

BPF_STACK_TRACE(stack_traces, 1024);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(skb, kfree_skb)
{
	/* BCC reports the reasons above NOT_SPECIFIED: not SKB_NOT_DROPPED_YET, SKB_CONSUMED (6.3+) nor the
	 * plain kfree_skb() calls that give no reason. The enum's values differ between kernels (6.1 has no
	 * SKB_CONSUMED: NOT_SPECIFIED is 1 there, 2 here), so the bound is this kernel's, relocated from BTF. */
	if (args->reason <= bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED))
		return 0;
	struct sk_buff *skb = (struct sk_buff *)args->skbaddr;
	struct sock *sk = BPF_CORE_READ(skb, sk);
	if (!sk)
		sk = (struct sock *)args->rx_sk;
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((family != AF_INET && family != AF_INET6) || (targ_family && family != targ_family))
		return 0;
	if (targ_netns && sock_netns((u64)sk) != targ_netns)
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	u16 network = BPF_CORE_READ(skb, network_header), transport = BPF_CORE_READ(skb, transport_header);
	struct tcphdr th = {};
	bpf_probe_read_kernel(&th, sizeof(th), head + transport);
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	e->pid = bpfkit_tgid();
	e->reason = args->reason;
	e->stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	e->family = family;
	e->sport = __builtin_bswap16(th.source);
	e->dport = __builtin_bswap16(th.dest);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->tcpflags = ((u8 *)&th)[13];
	if (family == AF_INET) {
		struct iphdr ip = {};
		bpf_probe_read_kernel(&ip, sizeof(ip), head + network);
		__builtin_memcpy(e->saddr, &ip.saddr, 4);
		__builtin_memcpy(e->daddr, &ip.daddr, 4);
	} else {
		struct ipv6hdr ip6 = {};
		bpf_probe_read_kernel(&ip6, sizeof(ip6), head + network);
		__builtin_memcpy(e->saddr, &ip6.saddr, 16);
		__builtin_memcpy(e->daddr, &ip6.daddr, 16);
	}
	ringbuf_submit(events, e);
	return 0;
}
`;

interface Options {
  ipv4: boolean;
  ipv6: boolean;
  'netns-id'?: number;
  'pid-netns'?: number;
}

interface DropEvent {
  pid: number; reason: number; stack_id: number; family: number; sport: number; dport: number; state: number; tcpflags: number;
  saddr: number[]; daddr: number[];
}

/** BCC's tcp.flags2str: the TCP header's flag names, joined by "|". */
const FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];
const tcpFlags = (flags: number) => FLAG_NAMES.filter((_, i) => flags & (1 << i)).join('|');

/** --pid-netns: the network namespace of a process, as BCC (the inode of /proc/PID/ns/net). */
function netnsOfPid(pid: number): number {
  try {
    return fs.statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    throw new UsageError(`no process with PID ${pid}`);
  }
}

defineTool<Options>({
  name: 'tcpdrop',
  subsystem: 'net',
  description: 'Trace TCP drops by the kernel',
  ports: { bcc: 'tools/tcpdrop.py', bpftrace: 'tools/tcpdrop.bt', book: 'originals/Ch10_Networking/tcpdrop.bt' },
  probes: { tracepoint: ['skb/kfree_skb'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['pid', 'ip', 'saddr', 'sport', 'daddr', 'dport', 'state', 'tcpflags', 'reason', 'reason_code', 'kernel_stack'] }),
  program,
  options: {
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
    'netns-id': opt.int(undefined, 'the netns id to filter by', 'netns id'),
    'pid-netns': { ...opt.pid('the pid whose netns to filter by'), alias: [] },
  },
  examples: [
    ['tcpdrop', 'trace kernel TCP drops'],
    ['tcpdrop -4', 'trace IPv4 family only'],
    ['tcpdrop -6', 'trace IPv6 family only'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    if (o['netns-id'] !== undefined && o['pid-netns'] !== undefined) return 'use only one of --pid-netns and --netns-id';
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const pidNetns = opts['pid-netns'];
    const netns = pidNetns !== undefined ? netnsOfPid(pidNetns) : opts['netns-id'] ?? 0;
    const bpf = load({ rodata: { targ_family: familyFilter(opts), targ_netns: netns } });
    bpf.attachAll();
    process.stderr.write('tcpdrop: no kprobes here (tcp_drop): tracing skb:kfree_skb with its drop reason\n');
    const reasons = dropReasonNames();
    const stacks = new StackReader(bpf, { user: false });
    if (!json) {
      out.line(sprintf('%-8s %-7s %-2s %-20s > %-20s %-20s %s', 'TIME', 'PID', 'IP', 'SADDR:SPORT', 'DADDR:DPORT', 'STATE (FLAGS)', 'REASON (CODE)'));
    }
    bpf.events<DropEvent>('events', 'event', e => {
      const { ip, saddr, daddr } = sessionAddrs(e);
      const reason = reasons.get(e.reason) ?? 'UNKNOWN';
      const state = tcpStateName(e.state);
      const flags = tcpFlags(e.tcpflags);
      const frames = stacks.frames('kernel', e.stack_id, 0, { showOffset: true }) ?? [];
      if (json) {
        emit.event({ pid: e.pid, ip, saddr, sport: e.sport, daddr, dport: e.dport, state, tcpflags: flags, reason, reason_code: e.reason,
          kernel_stack: frames });
        return;
      }
      out.line(sprintf('%-8s %-7d %-2d %-20s > %-20s %-20s %s (%d)', strftimeHMS(), e.pid, ip, `${saddr}:${e.sport}`, `${daddr}:${e.dport}`,
        `${state} (${flags})`, reason, e.reason));
      for (const f of frames) out.line(`\t${f}`);
      out.line('');
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcpdrop: lost ${lost} events\n`);
  },
});
