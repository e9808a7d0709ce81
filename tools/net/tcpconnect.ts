#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcpconnect: active TCP connections, connect() by connect() (BCC's tcpconnect). BCC probes
// tcp_v4/v6_connect; without kprobes here the substitute is sock:inet_sock_set_state CLOSE->SYN_SENT,
// which fires inside connect() (the caller's PID, UID, comm). The local port is chosen after that
// change, so -L reports at the socket's next change (ESTABLISHED, or CLOSE when refused).
import { defineTool, opt, ToolError } from '../../lib/cli/index.js';
import { familyOptions, oneFamily } from '../../lib/cli/net-options.js';
import { sprintf } from '../../lib/output/index.js';
import { familyFilter, sessionAddrs } from '../../lib/host/net.js';

const program = `
#include <bpfkit_net.h>   /* TCP states, copy_set_state_addrs() */

const volatile u32 targ_tgid = 0;
const volatile u32 targ_uid = (u32)-1;
const volatile u16 targ_family = 0;
const volatile bool filter_dport = false;
const volatile bool want_lport = false;

struct event {
	u64 ts_us;
	u32 pid;
	u32 uid;
	u16 family;
	u16 lport;
	u16 dport;
	u8 saddr[16];
	u8 daddr[16];
	char comm[16];
};

BPF_HASH(dports, u16, u8, 64);
BPF_HASH(pending, u64, struct event, 10240);   /* -L: connects waiting for their local port */
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	u64 sk = args->skaddr;
	if (args->oldstate == TCP_SYN_SENT && want_lport) {
		struct event *p = bpf_map_lookup_elem(&pending, &sk);
		if (!p)
			return 0;
		struct event *e = ringbuf_reserve(events, struct event);
		if (e) {
			__builtin_memcpy(e, p, sizeof(*e));
			e->lport = args->sport;
			ringbuf_submit(events, e);
		}
		bpf_map_delete_elem(&pending, &sk);
		return 0;
	}
	if (args->oldstate != TCP_CLOSE || args->newstate != TCP_SYN_SENT)
		return 0;
	if (targ_family && args->family != targ_family)
		return 0;
	u64 id = bpf_get_current_pid_tgid();
	u32 uid = (u32)bpf_get_current_uid_gid();
	if ((targ_tgid && (id >> 32) != targ_tgid) || (targ_uid != (u32)-1 && uid != targ_uid))
		return 0;
	u16 dport = args->dport;
	if (filter_dport && !bpf_map_lookup_elem(&dports, &dport))
		return 0;
	struct event e = {};
	e.ts_us = bpf_ktime_get_ns() / 1000;
	e.pid = id >> 32;
	e.uid = uid;
	e.family = args->family;
	e.dport = dport;
	copy_set_state_addrs(args, e.saddr, e.daddr);
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	if (want_lport)
		bpf_map_update_elem(&pending, &sk, &e, BPF_ANY);
	else
		ringbuf_output(events, &e, sizeof(e));
	return 0;
}
`;

interface Options {
  timestamp: boolean;
  pid?: number;
  port?: Set<number>;
  lport: boolean;
  ipv4: boolean;
  ipv6: boolean;
  printUid: boolean;
  uid?: number;
  count: boolean;
  dns: boolean;
}

interface ConnectEvent {
  ts_us: bigint; pid: number; uid: number; family: number; lport: number; dport: number; saddr: number[]; daddr: number[]; comm: string;
}

defineTool<Options>({
  name: 'tcpconnect',
  subsystem: 'net',
  description: 'Trace TCP connects',
  ports: { bcc: 'tools/tcpconnect.py', 'libbpf-tools': 'libbpf-tools/tcpconnect.bpf.c', bpftrace: 'tools/tcpconnect.bt', book: 'originals/Ch10_Networking/tcpconnect.bt' },
  probes: { tracepoint: ['sock/inet_sock_set_state'] },
  output: ['event', 'counts'],
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-c'], ends: 'ctrl-c' }],
  records: o => ({ fields: o.count ? ['laddr', 'raddr', 'rport', 'connects'] : ['ts_ns', 'pid', 'uid', 'comm', 'ip', 'saddr', ...(o.lport ? ['lport'] : []), 'daddr', 'dport'] }),
  program,
  options: {
    timestamp: opt.flag('t', 'include timestamp on output'),
    pid: opt.pid(),
    port: opt.ports('P', 'comma-separated list of destination ports to trace', 'port'),
    lport: opt.flag('L', 'include LPORT on output'),
    ...familyOptions,
    printUid: { ...opt.flag('U', 'include UID on output'), alias: ['U', 'print-uid'] },
    uid: opt.uid('trace this UID only'),
    count: opt.flag('c', 'count connects per src ip and dest ip/port'),
    dns: opt.flag('d', 'include likely DNS query associated with each connect'),
  },
  examples: [
    ['tcpconnect', 'trace all TCP connect()s'],
    ['tcpconnect -t', 'include timestamps'],
    ['tcpconnect -d', 'include DNS queries associated with connects'],
    ['tcpconnect -p 181', 'only trace PID 181'],
    ['tcpconnect -P 80', 'only trace port 80'],
    ['tcpconnect -P 80,81', 'only trace port 80 and 81'],
    ['tcpconnect -4', 'only trace IPv4 family'],
    ['tcpconnect -6', 'only trace IPv6 family'],
    ['tcpconnect -U', 'include UID'],
    ['tcpconnect -u 1000', 'only trace UID 1000'],
    ['tcpconnect -c', 'count connects per src ip and dest ip/port'],
    ['tcpconnect -L', 'include LPORT while printing outputs'],
  ],
  validate: oneFamily,

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    // BCC reads DNS answers at kprobe:udp_recvmsg; the syscall tracepoints do not give the payload's socket
    if (opts.dns) throw new ToolError('-d needs kprobes (udp_recvmsg), which this kernel does not have');
    const bpf = load({ rodata: {
      targ_tgid: opts.pid ?? 0, targ_uid: opts.uid ?? 0xffffffff, targ_family: familyFilter(opts),
      filter_dport: opts.port !== undefined, want_lport: opts.lport,
    } });
    for (const p of opts.port ?? []) bpf.map('dports').set(p, 1);
    bpf.attachAll();
    process.stderr.write('tcpconnect: no kprobes here: tracing connect() at sock:inet_sock_set_state CLOSE->SYN_SENT\n');
    const counts = new Map<string, number>();
    if (!json) {
      if (!opts.count) {
        out.line((opts.timestamp ? sprintf('%-9s', 'TIME(s)') : '') + (opts.printUid ? sprintf('%-6s', 'UID') : '') + (opts.lport
          ? sprintf('%-6s %-12s %-2s %-16s %-6s %-16s %-6s', 'PID', 'COMM', 'IP', 'SADDR', 'LPORT', 'DADDR', 'DPORT')
          : sprintf('%-6s %-12s %-2s %-16s %-16s %-6s', 'PID', 'COMM', 'IP', 'SADDR', 'DADDR', 'DPORT')));
      } else banner('Tracing connect ... Hit Ctrl-C to end');
    }
    let startUs: bigint | undefined;
    bpf.events<ConnectEvent>('events', 'event', e => {
      const { ip, saddr, daddr } = sessionAddrs(e);
      if (opts.count) {
        const key = `${saddr} ${daddr} ${e.dport}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return;
      }
      if (json) {
        emit.event({ pid: e.pid, uid: e.uid, comm: e.comm, ip, saddr, ...(opts.lport ? { lport: e.lport } : {}), daddr, dport: e.dport },
          { tsNs: e.ts_us * 1000n });
        return;
      }
      startUs ??= e.ts_us;
      out.line((opts.timestamp ? sprintf('%-9.3f', Number(e.ts_us - startUs) / 1e6) : '') + (opts.printUid ? sprintf('%-6d', e.uid) : '') +
        (opts.lport ? sprintf('%-6d %-12.12s %-2d %-16s %-6d %-16s %-6d', e.pid, e.comm, ip, saddr, e.lport, daddr, e.dport)
          : sprintf('%-6d %-12.12s %-2d %-16s %-16s %-6d', e.pid, e.comm, ip, saddr, daddr, e.dport)));
    });
    const startedMs = performance.now();
    await untilExit();
    if (opts.count) {
      const sorted = [...counts].sort((a, b) => b[1] - a[1]);
      if (json) {
        const rows = sorted.map(([k, n]) => {
          const [laddr, raddr, rport] = k.split(' ');
          return { laddr, raddr, rport: Number(rport), connects: n };
        });
        emit.counts(Math.round(performance.now() - startedMs) / 1000, rows);
      } else {
        out.line('');
        out.line(sprintf('%-25s %-25s %-20s %-10s', 'LADDR', 'RADDR', 'RPORT', 'CONNECTS'));
        for (const [k, n] of sorted) {
          const [s, d, p] = k.split(' ');
          out.line(sprintf('%-25s %-25s %-20s %-10d', s, d, p, n));
        }
      }
    }
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcpconnect: lost ${lost} events\n`);
  },
});
