#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcpretrans: TCP retransmits as they happen, or counted per address pair (BCC's tcpretrans), from the
// tcp:tcp_retransmit_skb tracepoint BCC prefers, and tcp:tcp_retransmit_synack for SYN-ACKs sent again
// (both count in the kernel's TcpRetransSegs). An attempt the device refused (the tracepoint's err) counts,
// as it does in TcpRetransSegs, which the kernel adds to before it transmits.
// PID is whoever runs at the time, usually 0 (a timer), as BCC warns.
import { defineTool, opt, ToolError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { familyFilter, sessionAddrs, tcpStateName } from '../../lib/host/net.js';

const program = `
#include <bpfkit_net.h>   /* TCP states, copy_set_state_addrs() */

const volatile u16 targ_family = 0;
const volatile bool count_only = false;

struct event {
	u32 pid;
	u32 seq;
	int state;
	u16 family;
	u16 lport;
	u16 dport;
	u8 saddr[16];
	u8 daddr[16];
};

struct flow {
	u16 family;
	u16 lport;
	u16 dport;
	u8 saddr[16];
	u8 daddr[16];
};

BPF_HASH(counts, struct flow, u64, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

/* both tracepoints have the same address fields (those of sock:inet_sock_set_state) */
#define retransmitted(args, state_, seq_) ({						\\
	if (!targ_family || (args)->family == targ_family) {				\\
		if (count_only) {							\\
			struct flow f = { .family = (args)->family, .lport = (args)->sport, .dport = (args)->dport }; \\
			copy_set_state_addrs(args, f.saddr, f.daddr);				\\
			map_increment(counts, f);						\\
		} else {								\\
			struct event *e = ringbuf_reserve(events, struct event);		\\
			if (e) {								\\
				e->pid = bpfkit_tgid();						\\
				e->seq = (seq_);						\\
				e->state = (state_);						\\
				e->family = (args)->family;					\\
				e->lport = (args)->sport;					\\
				e->dport = (args)->dport;					\\
				copy_set_state_addrs(args, e->saddr, e->daddr);			\\
				ringbuf_submit(events, e);					\\
			}								\\
		}									\\
	}										\\
	0; })

TRACEPOINT_PROBE(tcp, tcp_retransmit_skb)
{
	/* the segment's first sequence number: TCP_SKB_CB(skb)->seq, in skb->cb */
	struct sk_buff *skb = (struct sk_buff *)args->skbaddr;
	u32 seq = 0;
	bpf_probe_read_kernel(&seq, sizeof(seq), __builtin_preserve_access_index(&skb->cb));
	return retransmitted(args, args->state, seq);
}

TRACEPOINT_PROBE(tcp, tcp_retransmit_synack)
{
	return retransmitted(args, TCP_SYN_RECV, 0);
}
`;

interface Options {
  sequence: boolean;
  lossprobe: boolean;
  count: boolean;
  ipv4: boolean;
  ipv6: boolean;
}

interface RetransEvent { pid: number; seq: number; state: number; family: number; lport: number; dport: number; saddr: number[]; daddr: number[] }
type Flow = Omit<RetransEvent, 'pid' | 'seq' | 'state'>;

defineTool<Options>({
  name: 'tcpretrans',
  subsystem: 'net',
  description: 'Trace TCP retransmits',
  ports: { bcc: 'tools/tcpretrans.py', bpftrace: 'tools/tcpretrans.bt', book: 'originals/Ch10_Networking/tcpretrans.bt' },
  probes: { tracepoint: ['tcp/tcp_retransmit_skb', 'tcp/tcp_retransmit_synack'] },
  output: ['event', 'counts'],
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-c'], ends: 'ctrl-c' }],
  records: o => ({ fields: o.count ? ['ip', 'laddr', 'lport', 'raddr', 'rport', 'retransmits'] : ['pid', 'ip', 'laddr', 'lport', 'raddr', 'rport', 'type', 'state', ...(o.sequence ? ['seq'] : [])] }),
  program,
  options: {
    sequence: opt.flag('s', 'display TCP sequence numbers'),
    lossprobe: opt.flag('l', 'include tail loss probe attempts'),
    count: opt.flag('c', 'count occurred retransmits per flow'),
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
  },
  examples: [
    ['tcpretrans', 'trace TCP retransmits'],
    ['tcpretrans -l', 'include TLP attempts'],
    ['tcpretrans -4', 'trace IPv4 family only'],
    ['tcpretrans -6', 'trace IPv6 family only'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    // a TLP is sent from tcp_send_loss_probe(), which has no tracepoint (a TLP that resends data is a retransmit)
    if (opts.lossprobe) throw new ToolError('-l needs kprobes (tcp_send_loss_probe), which this kernel does not have');
    const bpf = load({ rodata: { targ_family: familyFilter(opts), count_only: opts.count } });
    bpf.attachAll();
    banner('Tracing retransmits ... Hit Ctrl-C to end');
    const endpoint = (addr: string, port: number) => `${addr}:${port}`;
    if (!opts.count) {
      if (!json) {
        out.line(sprintf('%-8s %-7s %-2s %-20s %1s> %-20s', 'TIME', 'PID', 'IP', 'LADDR:LPORT', 'T', 'RADDR:RPORT') +
          (opts.sequence ? sprintf(' %-12s %-10s', 'STATE', 'SEQ') : sprintf(' %-4s', 'STATE')));
      }
      bpf.events<RetransEvent>('events', 'event', e => {
        const { ip, saddr, daddr } = sessionAddrs(e);
        const state = tcpStateName(e.state);
        if (json) {
          emit.event({ pid: e.pid, ip, laddr: saddr, lport: e.lport, raddr: daddr, rport: e.dport, type: 'R', state,
            ...(opts.sequence ? { seq: e.seq } : {}) });
          return;
        }
        out.line(sprintf('%-8s %-7d %-2d %-20s %1s> %-20s', strftimeHMS(), e.pid, ip, endpoint(saddr, e.lport), 'R', endpoint(daddr, e.dport)) +
          (opts.sequence ? sprintf(' %-12s %s', state, e.seq) : ` ${state}`));
      });
    }
    const startedMs = performance.now();
    await untilExit();
    if (opts.count) {
      // BCC: IPv4 flows then IPv6, each fewest first
      const flows = bpf.map<Flow, bigint>('counts').entries().map(([f, n]) => ({ ...sessionAddrs(f), lport: f.lport, dport: f.dport, n: Number(n) }))
        .sort((a, b) => a.ip - b.ip || a.n - b.n);
      if (json) {
        emit.counts(Math.round(performance.now() - startedMs) / 1000,
          flows.map(f => ({ ip: f.ip, laddr: f.saddr, lport: f.lport, raddr: f.daddr, rport: f.dport, retransmits: f.n })));
      } else {
        out.line('');
        out.line(sprintf('%-25s %-25s %-10s', 'LADDR:LPORT', 'RADDR:RPORT', 'RETRANSMITS'));
        for (const f of flows) out.line(sprintf('%-20s <-> %-20s %10d', `[${f.saddr}]#${f.lport}`, `[${f.daddr}]#${f.dport}`, f.n));
      }
    }
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcpretrans: lost ${lost} events\n`);
  },
});
