#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// solisten: listen() calls on IPv4 and IPv6 stream sockets, with the backlog and the address listened on
// (BCC's solisten). BCC probes inet_listen; without kprobes here, syscalls:sys_enter_listen keeps the fd,
// and a successful sys_exit_listen finds the socket behind it (current_fd_sock()): its port (bound by
// listen() itself if need be), address, and sk_max_ack_backlog, which is the backlog inet_listen() was
// given (listen()'s, capped at net.core.somaxconn).
import { defineTool, opt } from '../../lib/cli/index.js';
import { AF_INET, formatIp } from '../../lib/host/net.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit_net.h>   /* AF_*, current_fd_sock(), sock_endpoints(), sock_netns() */

const volatile u32 targ_tgid = 0;
const volatile u32 targ_netns = 0;

struct event {
	u64 ts_us;
	u32 pid;
	u32 netns;
	u32 backlog;
	u16 family;
	u16 lport;
	u8 laddr[16];
	char comm[16];
};

BPF_HASH(calls, u32, long, 10240);   /* thread -> the fd its listen() was given */
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(syscalls, sys_enter_listen)
{
	u64 id = bpf_get_current_pid_tgid();
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	u32 tid = id;
	long fd = args->fd;
	bpf_map_update_elem(&calls, &tid, &fd, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_listen)
{
	u32 tid = bpf_get_current_pid_tgid();
	long *fd = bpf_map_lookup_elem(&calls, &tid);
	if (!fd)
		return 0;
	struct sock *sk = args->ret == 0 ? (struct sock *)current_fd_sock(*fd) : 0;
	bpf_map_delete_elem(&calls, &tid);
	if (!sk)
		return 0;
	struct event e = {};
	u8 raddr[16];
	u16 rport;
	e.family = sock_endpoints(sk, e.laddr, raddr, &e.lport, &rport);
	if (!e.family)
		return 0;   /* AF_UNIX and the like: BCC's inet_listen sees only IPv4 and IPv6 */
	e.netns = sock_netns((u64)sk);
	if (targ_netns && e.netns != targ_netns)
		return 0;
	e.ts_us = bpf_ktime_get_ns() / 1000;
	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	ringbuf_output(events, &e, sizeof(e));
	return 0;
}
`;

interface Options {
  showNetns: boolean;
  pid?: number;
  netns?: number;
}

interface ListenEvent { ts_us: bigint; pid: number; netns: number; backlog: number; family: number; lport: number; laddr: number[]; comm: string }

defineTool<Options>({
  name: 'solisten',
  subsystem: 'net',
  description: 'Stream sockets listen',
  ports: { bcc: 'tools/solisten.py', 'libbpf-tools': 'libbpf-tools/solisten.bpf.c' },
  probes: { tracepoint: ['syscalls/sys_enter_listen', 'syscalls/sys_exit_listen'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['--show-netns'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'netns', 'proto', 'backlog', 'port', 'addr'] }),
  program,
  options: {
    showNetns: { type: 'boolean', describe: 'show network namespace', default: false, alias: 'show-netns' },
    pid: opt.pid(),
    netns: opt.int('n', 'trace this Network Namespace only', 'network namespace'),
  },
  examples: [
    ['solisten', 'Stream socket listen'],
    ['solisten -p 1234', 'Stream socket listen for specified PID only'],
    ['solisten --netns 4242', '" for the specified network namespace ID only'],
    ['solisten --show-netns', 'Show network ns ID (useful for containers)'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_netns: opts.netns ?? 0 } });
    bpf.attachAll();
    process.stderr.write('solisten: no kprobes here: tracing listen() at syscalls:sys_enter_listen/sys_exit_listen\n');
    const show = opts.showNetns;
    if (!json) {
      out.line(show ? sprintf('%-7s %-12s %-12s %-6s %-8s %-5s %-39s', 'PID', 'COMM', 'NETNS', 'PROTO', 'BACKLOG', 'PORT', 'ADDR')
        : sprintf('%-7s %-12s %-6s %-8s %-5s %-39s', 'PID', 'COMM', 'PROTO', 'BACKLOG', 'PORT', 'ADDR'));
    }
    bpf.events<ListenEvent>('events', 'event', e => {
      const proto = e.family === AF_INET ? 'TCPv4' : 'TCPv6';
      const addr = formatIp(e.family, e.laddr);
      if (json) {
        emit.event({ pid: e.pid, comm: e.comm, netns: e.netns, proto, backlog: e.backlog, port: e.lport, addr }, { tsNs: e.ts_us * 1000n });
        return;
      }
      out.line(show ? sprintf('%-7d %-12.12s %-12d %-6s %-8d %-5d %-39s', e.pid, e.comm, e.netns, proto, e.backlog, e.lport, addr)
        : sprintf('%-7d %-12.12s %-6s %-8d %-5d %-39s', e.pid, e.comm, proto, e.backlog, e.lport, addr));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`solisten: lost ${lost} events\n`);
  },
});
