#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcpwin: a TCP socket's send congestion window and buffers, one CSV row per segment it receives in the
// established state (the book's tcpwin.bt, chapter 10), for plotting cwnd over time. The book reads
// tcp_sock at kprobe:tcp_rcv_established; without kprobes here the tcp:tcp_probe tracepoint, which that
// function fires first, carries cwnd, ssthresh, the windows and srtt, and the socket, whose sk_sndbuf
// and sk_wmem_queued are read through BTF. After the book's columns: snd_wnd, rcv_wnd, srtt and the ends.
import { defineTool, opt } from '../../lib/cli/index.js';
import { familyFilter, sessionAddrs } from '../../lib/host/net.js';

const program = `
#include <bpfkit_net.h>   /* AF_* */

const volatile u16 targ_family = 0;
const volatile u16 targ_lport = 0;
const volatile u16 targ_rport = 0;

struct event {
	u64 ts_ns;
	u64 sock;
	u32 snd_cwnd;
	u32 ssthresh;
	s32 sndbuf;
	s32 wmem_queued;
	u32 snd_wnd;
	u32 rcv_wnd;
	u32 srtt_us;
	u16 family;
	u16 lport;
	u16 rport;
	u8 laddr[16];
	u8 raddr[16];
};

BPF_RINGBUF_OUTPUT(events, 1024);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(tcp, tcp_probe)
{
	u16 family = args->family;
	if ((family != AF_INET && family != AF_INET6) || (targ_family && family != targ_family))
		return 0;
	if ((targ_lport && args->sport != targ_lport) || (targ_rport && args->dport != targ_rport))
		return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	struct sock *sk = (struct sock *)args->skaddr;
	e->ts_ns = bpf_ktime_get_ns();
	e->sock = (u64)sk;
	e->snd_cwnd = args->snd_cwnd;
	e->ssthresh = args->ssthresh;
	e->sndbuf = BPF_CORE_READ(sk, sk_sndbuf);
	e->wmem_queued = BPF_CORE_READ(sk, sk_wmem_queued);
	e->snd_wnd = args->snd_wnd;
	e->rcv_wnd = args->rcv_wnd;
	e->srtt_us = args->srtt;
	e->family = family;
	e->lport = args->sport;
	e->rport = args->dport;
	/* sockaddrs: sockaddr_in's address at offset 4, sockaddr_in6's at 8 */
	if (family == AF_INET) {
		__builtin_memcpy(e->laddr, args->saddr + 4, 4);
		__builtin_memcpy(e->raddr, args->daddr + 4, 4);
	} else {
		__builtin_memcpy(e->laddr, args->saddr + 8, 16);
		__builtin_memcpy(e->raddr, args->daddr + 8, 16);
	}
	ringbuf_submit(events, e);
	return 0;
}
`;

interface Options {
  lport?: number;
  rport?: number;
  ipv4: boolean;
  ipv6: boolean;
}

interface WinEvent {
  ts_ns: bigint; sock: bigint; snd_cwnd: number; ssthresh: number; sndbuf: number; wmem_queued: number;
  snd_wnd: number; rcv_wnd: number; srtt_us: number; family: number; lport: number; rport: number; laddr: number[]; raddr: number[];
}

const COLUMNS = ['event', 'sock', 'time_us', 'snd_cwnd', 'snd_ssthresh', 'sk_sndbuf', 'sk_wmem_queued',
  'snd_wnd', 'rcv_wnd', 'srtt_us', 'laddr', 'lport', 'raddr', 'rport'];

defineTool<Options>({
  name: 'tcpwin',
  subsystem: 'net',
  description: 'Trace TCP send congestion window parameters',
  ports: { book: 'originals/Ch10_Networking/tcpwin.bt' },
  probes: { tracepoint: ['tcp/tcp_probe'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-4'], ends: 'ctrl-c' }],
  records: () => ({ fields: [...COLUMNS.filter(c => c !== 'time_us'), 'ip', 'ts_ns'] }),
  program,
  options: {
    lport: opt.port('L', 'trace this local port only', 'local port'),
    rport: opt.port('D', 'trace this remote port only', 'remote port'),
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
  },
  examples: [
    ['tcpwin', 'trace TCP send congestion window parameters, as CSV'],
    ['tcpwin -D 80', 'only the sockets whose remote port is 80'],
    ['tcpwin -4', 'IPv4 sockets only'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_family: familyFilter(opts), targ_lport: opts.lport ?? 0, targ_rport: opts.rport ?? 0 } });
    bpf.attachAll();
    process.stderr.write('tcpwin: no kprobes here: tracing tcp:tcp_probe (fired by tcp_rcv_established)\n');
    if (!json) out.line(COLUMNS.join(','));
    const startNs = process.hrtime.bigint(); // the book's elapsed: since the tool started (both are CLOCK_MONOTONIC)
    bpf.events<WinEvent>('events', 'event', e => {
      const { ip, saddr: laddr, daddr: raddr } = sessionAddrs({ family: e.family, saddr: e.laddr, daddr: e.raddr });
      const sock = `0x${e.sock.toString(16)}`;
      if (json) {
        emit.event({ event: 'rcv', sock, snd_cwnd: e.snd_cwnd, snd_ssthresh: e.ssthresh, sk_sndbuf: e.sndbuf, sk_wmem_queued: e.wmem_queued,
          snd_wnd: e.snd_wnd, rcv_wnd: e.rcv_wnd, srtt_us: e.srtt_us, ip, laddr, lport: e.lport, raddr, rport: e.rport }, { tsNs: e.ts_ns });
        return;
      }
      const timeUs = e.ts_ns > startNs ? (e.ts_ns - startNs) / 1000n : 0n;
      out.line(['rcv', sock, timeUs, e.snd_cwnd, e.ssthresh, e.sndbuf, e.wmem_queued, e.snd_wnd, e.rcv_wnd, e.srtt_us,
        laddr, e.lport, raddr, e.rport].join(','));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcpwin: lost ${lost} events\n`);
  },
});
