#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcpaccept: passive TCP connections, accept() by accept() (BCC's tcpaccept). BCC probes the return of
// inet_csk_accept; without kprobes here: sock:inet_sock_set_state SYN_RECV->ESTABLISHED marks the new
// socket (in softirq context, so no process), and the accept()/accept4() that returns it, found through
// the caller's fd table, gives the PID and comm.
import { defineTool, opt } from '../../lib/cli/index.js';
import { familyOptions, oneFamily } from '../../lib/cli/net-options.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { familyFilter, sessionAddrs } from '../../lib/host/net.js';

const program = `
#include <bpfkit_net.h>   /* TCP states, copy_set_state_addrs(), current_fd_sock(), send_accepted() */

const volatile u32 targ_tgid = 0;
const volatile u16 targ_family = 0;
const volatile bool filter_lport = false;

struct event {
	u64 ts_us;
	u32 pid;
	u16 family;
	u16 lport;
	u16 rport;
	u8 laddr[16];
	u8 raddr[16];
	char comm[16];
};

BPF_HASH(lports, u16, u8, 64);
BPF_HASH(established, u64, struct event, 10240);   /* new sockets not accepted yet */
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP || args->oldstate != TCP_SYN_RECV || args->newstate != TCP_ESTABLISHED)
		return 0;
	if (targ_family && args->family != targ_family)
		return 0;
	u16 lport = args->sport;
	if (filter_lport && !bpf_map_lookup_elem(&lports, &lport))
		return 0;
	u64 sk = args->skaddr;
	struct event e = {};
	e.family = args->family;
	e.lport = lport;
	e.rport = args->dport;
	copy_set_state_addrs(args, e.laddr, e.raddr);
	bpf_map_update_elem(&established, &sk, &e, BPF_ANY);
	return 0;
}

static __always_inline int accepted(void *ctx, long fd)
{
	u32 pid = bpfkit_tgid();
	if (targ_tgid && pid != targ_tgid)
		return 0;
	u64 sk = current_fd_sock(fd);   /* only sockets seen established (and not filtered out) are pending */
	return send_accepted(events, established, struct event, sk, pid, ts_us, 1000);
}

TRACEPOINT_PROBE(syscalls, sys_exit_accept4) { return accepted(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_accept) { return accepted(ctx, args->ret); }
`;

interface Options {
  time: boolean;
  timestamp: boolean;
  pid?: number;
  port?: Set<number>;
  ipv4: boolean;
  ipv6: boolean;
}

interface AcceptEvent {
  ts_us: bigint; pid: number; family: number; lport: number; rport: number; laddr: number[]; raddr: number[]; comm: string;
}

defineTool<Options>({
  name: 'tcpaccept',
  subsystem: 'net',
  description: 'Trace TCP accepts',
  ports: { bcc: 'tools/tcpaccept.py', bpftrace: 'tools/tcpaccept.bt', book: 'originals/Ch10_Networking/tcpaccept.bt' },
  probes: { tracepoint: ['sock/inet_sock_set_state', 'syscalls/sys_exit_accept4', 'syscalls/sys_exit_accept'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'ip', 'raddr', 'rport', 'laddr', 'lport'] }),
  program,
  options: {
    time: opt.flag('T', 'include time column on output (HH:MM:SS)'),
    timestamp: opt.flag('t', 'include timestamp on output'),
    pid: opt.pid(),
    port: opt.ports('P', 'comma-separated list of local ports to trace', 'port'),
    ...familyOptions,
  },
  examples: [
    ['tcpaccept', 'trace all TCP accept()s'],
    ['tcpaccept -t', 'include timestamps'],
    ['tcpaccept -P 80,81', 'only trace port 80 and 81'],
    ['tcpaccept -p 181', 'only trace PID 181'],
    ['tcpaccept -4', 'trace IPv4 family only'],
    ['tcpaccept -6', 'trace IPv6 family only'],
  ],
  validate: oneFamily,

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: {
      targ_tgid: opts.pid ?? 0, targ_family: familyFilter(opts), filter_lport: opts.port !== undefined,
    } });
    for (const p of opts.port ?? []) bpf.map('lports').set(p, 1);
    bpf.attachAll();
    process.stderr.write('tcpaccept: no kprobes here: tracing accept() at sock:inet_sock_set_state SYN_RECV->ESTABLISHED and sys_exit_accept/accept4\n');
    if (!json) {
      out.line((opts.time ? sprintf('%-9s', 'TIME') : '') + (opts.timestamp ? sprintf('%-9s', 'TIME(s)') : '') +
        sprintf('%-7s %-12s %-2s %-16s %-5s %-16s %-5s', 'PID', 'COMM', 'IP', 'RADDR', 'RPORT', 'LADDR', 'LPORT'));
    }
    let startUs: bigint | undefined;
    bpf.events<AcceptEvent>('events', 'event', e => {
      const { ip, saddr: laddr, daddr: raddr } = sessionAddrs({ family: e.family, saddr: e.laddr, daddr: e.raddr });
      if (json) {
        emit.event({ pid: e.pid, comm: e.comm, ip, raddr, rport: e.rport, laddr, lport: e.lport }, { tsNs: e.ts_us * 1000n });
        return;
      }
      startUs ??= e.ts_us;
      out.line((opts.time ? sprintf('%-9s', strftimeHMS()) : '') + (opts.timestamp ? sprintf('%-9.3f', Number(e.ts_us - startUs) / 1e6) : '') +
        sprintf('%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d', e.pid, e.comm, ip, raddr, e.rport, laddr, e.lport));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcpaccept: lost ${lost} events\n`);
  },
});
