#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcptracer: TCP connections as they are established and closed, C (connect), A (accept) and X (close)
// (BCC's tcptracer). BCC probes tcp_v4/v6_connect, tcp_set_state, inet_csk_accept and tcp_close; without
// kprobes here, from sock:inet_sock_set_state: C when a socket that entered SYN_SENT inside connect() (the
// caller's PID and comm) becomes ESTABLISHED; A at the accept()/accept4() that returns a socket seen going
// SYN_RECV -> ESTABLISHED (as tcpaccept); X when close() takes an established socket into FIN_WAIT1 or
// LAST_ACK (or CLOSE, with unread data), which is where tcp_close() runs.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';
import { AF_INET6, familyFilter, sessionAddrs } from '../../lib/host/net.js';

const program = `
#include <bpfkit_net.h>   /* TCP states, copy_set_state_addrs(), current_fd_sock(), sock_netns(), send_accepted() */

const volatile u32 targ_tgid = 0;
const volatile u32 targ_netns = 0;
const volatile u16 targ_family = 0;

enum { EVENT_CONNECT = 1, EVENT_ACCEPT = 2, EVENT_CLOSE = 3 };

struct event {
	u64 ts_ns;
	u32 type;
	u32 pid;
	u32 netns;
	u16 family;
	u16 sport;
	u16 dport;
	u8 saddr[16];
	u8 daddr[16];
	char comm[16];
};

struct owner { u32 pid; char comm[16]; };

BPF_HASH(connecting, u64, struct owner, 10240);       /* socket -> its connect()'s caller */
BPF_HASH(established, u64, struct event, 10240);      /* passive sockets not accepted yet */
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline bool wanted(u16 family, u64 sk)
{
	return (!targ_family || family == targ_family) && (!targ_netns || sock_netns(sk) == targ_netns);
}

/* A connect (C) or close (X) of socket sk at inet_sock_set_state, by pid; comm NULL: the current task's. */
static __always_inline void send_event(struct tracepoint__sock__inet_sock_set_state *args, u64 sk, u32 type, u32 pid, const char *comm)
{
	void *ctx = args;   /* ringbuf_submit's perf fallback outputs through the probe's context */
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->pid = pid;
	if (comm)
		__builtin_memcpy(e->comm, comm, sizeof(e->comm));
	else
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
	e->netns = sock_netns(sk);
	e->family = args->family;
	e->sport = args->sport;
	e->dport = args->dport;
	copy_set_state_addrs(args, e->saddr, e->daddr);
	ringbuf_submit(events, e);
}

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	int old = args->oldstate, new = args->newstate;
	u64 sk = args->skaddr;
	if (old == TCP_CLOSE && new == TCP_SYN_SENT) {
		u32 pid = bpfkit_tgid();
		if ((targ_tgid && pid != targ_tgid) || !wanted(args->family, sk))
			return 0;
		struct owner o = { .pid = pid };
		bpf_get_current_comm(&o.comm, sizeof(o.comm));
		bpf_map_update_elem(&connecting, &sk, &o, BPF_ANY);
		return 0;
	}
	if (old == TCP_SYN_SENT) {
		struct owner *o = bpf_map_lookup_elem(&connecting, &sk);
		if (!o)
			return 0;
		if (new == TCP_ESTABLISHED)
			send_event(args, sk, EVENT_CONNECT, o->pid, o->comm);
		bpf_map_delete_elem(&connecting, &sk);
		return 0;
	}
	if (old == TCP_SYN_RECV && new == TCP_ESTABLISHED) {
		if (!wanted(args->family, sk))
			return 0;
		struct event e = { .type = EVENT_ACCEPT, .family = args->family, .sport = args->sport, .dport = args->dport };
		e.netns = sock_netns(sk);
		copy_set_state_addrs(args, e.saddr, e.daddr);
		bpf_map_update_elem(&established, &sk, &e, BPF_ANY);
		return 0;
	}
	if ((old == TCP_ESTABLISHED || old == TCP_CLOSE_WAIT) && (new == TCP_FIN_WAIT1 || new == TCP_LAST_ACK || new == TCP_CLOSE)) {
		bpf_map_delete_elem(&established, &sk);   /* closed before accept() took it */
		u32 pid = bpfkit_tgid();
		if ((targ_tgid && pid != targ_tgid) || !wanted(args->family, sk))
			return 0;
		send_event(args, sk, EVENT_CLOSE, pid, NULL);
	}
	return 0;
}

static __always_inline int accepted(void *ctx, long fd)
{
	u32 pid = bpfkit_tgid();
	if (targ_tgid && pid != targ_tgid)
		return 0;
	u64 sk = current_fd_sock(fd);
	return send_accepted(events, established, struct event, sk, pid, ts_ns, 1);
}

TRACEPOINT_PROBE(syscalls, sys_exit_accept4) { return accepted(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_accept) { return accepted(ctx, args->ret); }
`;

interface Options {
  timestamp: boolean;
  pid?: number;
  netns?: number;
  ipv4: boolean;
  ipv6: boolean;
  verbose: boolean;
}

interface TracerEvent {
  ts_ns: bigint; type: number; pid: number; netns: number; family: number; sport: number; dport: number; saddr: number[]; daddr: number[]; comm: string;
}

const TYPES = ['U', 'C', 'A', 'X'];
const VERBOSE_TYPES: Record<string, string> = { C: 'connect', A: 'accept', X: 'close', U: 'unknown' };

defineTool<Options>({
  name: 'tcptracer',
  subsystem: 'net',
  description: 'Trace TCP connections',
  ports: { bcc: 'tools/tcptracer.py', 'libbpf-tools': 'libbpf-tools/tcptracer.bpf.c' },
  probes: { tracepoint: ['sock/inet_sock_set_state', 'syscalls/sys_exit_accept4', 'syscalls/sys_exit_accept'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-t', '-v'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'type', 'pid', 'comm', 'ip', 'saddr', 'daddr', 'sport', 'dport', 'netns'] }),
  program,
  options: {
    timestamp: opt.flag('t', 'include timestamp on output'),
    pid: opt.pid(),
    netns: opt.int('N', 'trace this Network Namespace only', 'network namespace'),
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
    verbose: opt.flag('v', 'include Network Namespace in the output'),
  },
  examples: [
    ['tcptracer', 'trace all TCP connections'],
    ['tcptracer -t', 'include timestamps'],
    ['tcptracer -p 181', 'only trace PID 181'],
    ['tcptracer -N 4026531992', 'only trace network namespace 4026531992'],
    ['tcptracer -v', 'include the type name and the network namespace'],
    ['tcptracer -4', 'trace IPv4 family only'],
    ['tcptracer -6', 'trace IPv6 family only'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_netns: opts.netns ?? 0, targ_family: familyFilter(opts) } });
    bpf.attachAll();
    process.stderr.write('tcptracer: no kprobes here: tracing at sock:inet_sock_set_state and sys_exit_accept/accept4\n');
    banner('Tracing TCP established connections. Ctrl-C to end.');
    const { verbose, timestamp } = opts;
    const withNetns = verbose && opts.netns === undefined;
    if (!json) {
      out.line(verbose
        ? (timestamp ? sprintf('%-14s', 'TIME(ns)') : '') + sprintf('%-12s %-6s %-16s %-2s %-16s %-16s %-6s %-7s', 'TYPE', 'PID', 'COMM', 'IP', 'SADDR', 'DADDR', 'SPORT', 'DPORT') + (withNetns ? sprintf('%-8s', 'NETNS') : '')
        : (timestamp ? sprintf('%-9s', 'TIME(s)') : '') + sprintf('%-2s %-6s %-16s %-2s %-16s %-16s %-6s %-6s', 'T', 'PID', 'COMM', 'IP', 'SADDR', 'DADDR', 'SPORT', 'DPORT'));
    }
    let startNs: bigint | undefined;
    bpf.events<TracerEvent>('events', 'event', e => {
      const { ip, saddr, daddr } = sessionAddrs(e);
      const type = TYPES[e.type] ?? 'U';
      if (json) {
        emit.event({ type: VERBOSE_TYPES[type], pid: e.pid, comm: e.comm, ip, saddr, daddr, sport: e.sport, dport: e.dport, netns: e.netns },
          { tsNs: e.ts_ns });
        return;
      }
      startNs ??= e.ts_ns;
      // BCC: IPv6 addresses in brackets
      const [s, d] = e.family === AF_INET6 ? [`[${saddr}]`, `[${daddr}]`] : [saddr, daddr];
      const rel = e.ts_ns - startNs;
      out.line((timestamp ? (verbose ? sprintf('%-14d', rel) : sprintf('%-9.3f', Number(rel) / 1e9)) : '') +
        (verbose ? sprintf('%-12s ', VERBOSE_TYPES[type]) : sprintf('%-2s ', type)) +
        sprintf('%-6d %-16s %-2d %-16s %-16s %-6d %-6d', e.pid, e.comm, ip, s, d, e.sport, e.dport) +
        (withNetns ? sprintf(' %-8d', e.netns) : ''));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcptracer: lost ${lost} events\n`);
  },
});
