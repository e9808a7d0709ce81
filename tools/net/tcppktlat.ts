#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcppktlat: how long a received TCP segment waits before a thread reads it (libbpf-tools' tcppktlat).
// tcp_probe (in tcp_rcv_established) stamps each segment with data by the sequence number just past it;
// tcp_rcv_space_adjust, which tcp_recvmsg calls once it has copied data to the reader, finds the segment
// whose end the socket's copied_seq has reached, in the reader's context (PID, TID, comm): the gap is the
// latency. tcp_destroy_sock forgets what a closed socket left. tp_btf here, raw_tp where BTF is missing.
import { defineTool, opt } from '../../lib/cli/index.js';
import { nonNegativeInt, positiveInt } from '../../lib/cli/options.js';
import { familyFilter, sessionAddrs } from '../../lib/host/net.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_net.h>   /* sock_endpoints() */

const volatile u32 targ_pid = 0;
const volatile u32 targ_tid = 0;
const volatile u16 targ_lport = 0;
const volatile u16 targ_rport = 0;
const volatile u16 targ_family = 0;
const volatile u64 targ_min_us = 0;

/* pad named: an initializer zeroes it, where clang may leave unnamed padding as stack garbage and the
 * lookup at the read then misses the arrival's key */
struct segment_key { u64 sk; u32 end_seq; u32 __pad; };
struct event {
	u64 ts_ns;
	u64 delta_us;
	u32 pid;
	u32 tid;
	u16 family;
	u16 lport;
	u16 rport;
	u8 laddr[16];
	u8 raddr[16];
	char comm[16];
};

BPF_LRU_HASH(arrived, struct segment_key, u64, 10240);
BPF_RINGBUF_OUTPUT(events, 256);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline bool sock_wanted(struct sock *sk)
{
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((family != AF_INET && family != AF_INET6) || (targ_family && family != targ_family))
		return false;
	if (targ_lport && BPF_CORE_READ(sk, __sk_common.skc_num) != targ_lport)
		return false;
	if (targ_rport && __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport)) != targ_rport)
		return false;
	return true;
}

static __always_inline int segment_arrived(struct sock *sk, struct sk_buff *skb)
{
	if (!sock_wanted(sk))
		return 0;
	struct tcphdr *th = (struct tcphdr *)BPF_CORE_READ(skb, data);
	u32 payload = BPF_CORE_READ(skb, len) - BPF_CORE_READ_BITFIELD_PROBED(th, doff) * 4;
	if ((s32)payload <= 0)
		return 0;   /* a pure ACK: nothing for a reader */
	struct segment_key key = { .sk = (u64)sk, .end_seq = __builtin_bswap32(BPF_CORE_READ(th, seq)) + payload };
	u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&arrived, &key, &now, BPF_ANY);
	return 0;
}

static __always_inline int data_read(void *ctx, struct sock *sk)
{
	struct segment_key key = { .sk = (u64)sk, .end_seq = BPF_CORE_READ((struct tcp_sock *)sk, copied_seq) };
	u64 *start = bpf_map_lookup_elem(&arrived, &key);
	if (!start)
		return 0;
	u64 id = bpf_get_current_pid_tgid();
	if ((targ_pid && (id >> 32) != targ_pid) || (targ_tid && (u32)id != targ_tid))
		goto done;
	u64 now = bpf_ktime_get_ns();
	u64 delta_us = (now - *start) / 1000;
	if (delta_us < targ_min_us)
		goto done;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		goto done;
	e->ts_ns = now;
	e->delta_us = delta_us;
	e->pid = id >> 32;
	e->tid = id;
	__builtin_memset(e->laddr, 0, 16);
	__builtin_memset(e->raddr, 0, 16);
	e->family = sock_endpoints(sk, e->laddr, e->raddr, &e->lport, &e->rport);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
done:
	bpf_map_delete_elem(&arrived, &key);
	return 0;
}

static __always_inline int sock_gone(struct sock *sk)
{
	struct segment_key key = { .sk = (u64)sk, .end_seq = BPF_CORE_READ((struct tcp_sock *)sk, copied_seq) };
	bpf_map_delete_elem(&arrived, &key);
	return 0;
}

BTF_TRACEPOINT_PROBE(tcp_probe, tcp_probe, segment_arrived(sk, skb), struct sock *sk, struct sk_buff *skb)
BTF_TRACEPOINT_PROBE(tcp_rcv_space_adjust, rcv_space_adjust, data_read(ctx, sk), struct sock *sk)
BTF_TRACEPOINT_PROBE(tcp_destroy_sock, destroy_sock, sock_gone(sk), struct sock *sk)
`;

interface Options {
  minUs?: string;
  pid?: number;
  tid?: number;
  timestamp: boolean;
  lport?: number;
  rport?: number;
  verbose: boolean;
  addrWidth: number;
  ipv4: boolean;
  ipv6: boolean;
}

interface LatencyEvent {
  ts_ns: bigint; delta_us: bigint; pid: number; tid: number; family: number; lport: number; rport: number; laddr: number[]; raddr: number[]; comm: string;
}

/** The positional: the least latency shown, in microseconds (0: all). */
const minLatencyUs = (o: Options) => nonNegativeInt('minimum latency (us)')(o.minUs) ?? 0;

const EVENTS = ['tcp_probe', 'tcp_rcv_space_adjust', 'tcp_destroy_sock'];

defineTool<Options>({
  name: 'tcppktlat',
  subsystem: 'net',
  description: 'Trace latency between TCP received pkt and picked up by userspace thread',
  ports: { 'libbpf-tools': 'libbpf-tools/tcppktlat.bpf.c' },
  probes: { tp_btf: EVENTS, raw_tp: EVENTS },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-T', '-4', '-W', '20'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['pid', 'tid', 'comm', 'ip', 'laddr', 'lport', 'raddr', 'rport', 'ms', 'ts_ns'] }),
  program,
  positional: '[minUs]',
  options: {
    pid: opt.pid('Process ID to trace'),
    tid: opt.tid('Thread ID to trace'),
    timestamp: opt.flag('T', 'Include timestamp on output'),
    lport: opt.port('l', 'Filter for local port', 'local port'),
    rport: opt.port('r', 'Filter for remote port', 'remote port'),
    verbose: opt.flag('v', 'Verbose debug output'),
    addrWidth: { alias: 'W', type: 'string', default: 15, coerce: positiveInt('address width'), describe: 'Specify print width of tcp address (default 15)' },
    ipv4: opt.flag('4', 'Trace IPv4 skb only'),
    ipv6: opt.flag('6', 'Trace IPv6 skb only'),
  },
  examples: [
    ['tcppktlat', 'Trace all TCP packet picked up latency'],
    ['tcppktlat -T', 'summarize with timestamps'],
    ['tcppktlat -p 181', 'filter for pid'],
    ['tcppktlat -t 181', 'filter for tid'],
    ['tcppktlat -l 80', 'filter for local port'],
    ['tcppktlat -r 80', 'filter for remote port'],
    ['tcppktlat 10000', 'only latencies of 10 ms (10000 us) or more'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    minLatencyUs(o);
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: {
      targ_pid: opts.pid ?? 0, targ_tid: opts.tid ?? 0, targ_lport: opts.lport ?? 0, targ_rport: opts.rport ?? 0,
      targ_family: familyFilter(opts), targ_min_us: BigInt(minLatencyUs(opts)),
    } });
    bpf.attachAll();
    const w = opts.addrWidth;
    if (!json) {
      out.line((opts.timestamp ? sprintf('%-8s ', 'TIME(s)') : '') +
        sprintf('%-7s %-7s %-16s %-*s %-5s %-*s %-5s %-s', 'PID', 'TID', 'COMM', w, 'LADDR', 'LPORT', w, 'RADDR', 'RPORT', 'MS'));
    }
    bpf.events<LatencyEvent>('events', 'event', e => {
      const { ip, saddr: laddr, daddr: raddr } = sessionAddrs({ family: e.family, saddr: e.laddr, daddr: e.raddr });
      const ms = Number(e.delta_us) / 1e3;
      if (json) {
        emit.event({ pid: e.pid, tid: e.tid, comm: e.comm, ip, laddr, lport: e.lport, raddr, rport: e.rport, ms }, { tsNs: e.ts_ns });
        return;
      }
      out.line((opts.timestamp ? sprintf('%-8s ', strftimeHMS()) : '') +
        sprintf('%-7d %-7d %-16s %-*s %-5d %-*s %-5d %-.2f', e.pid, e.tid, e.comm, w, laddr, e.lport, w, raddr, e.rport, ms));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcppktlat: lost ${lost} events\n`);
  },
});
