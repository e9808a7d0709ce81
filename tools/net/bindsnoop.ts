#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// bindsnoop: bind() calls on IPv4 and IPv6 sockets with the options set on the socket (BCC's bindsnoop).
// BCC probes inet_bind/inet6_bind and their returns; without kprobes here, syscalls:sys_enter_bind keeps
// the call's fd and address, and sys_exit_bind finds the socket behind the fd (current_fd_sock()): the
// port bound (the one the kernel chose, for port 0), protocol, options and device. A failed bind (-E)
// shows the address and port asked for.
import os from 'node:os';
import { defineTool, opt } from '../../lib/cli/index.js';
import { formatIp } from '../../lib/host/net.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit_net.h>   /* AF_*, current_fd_sock(), sock_endpoints() */

const volatile u32 targ_tgid = 0;
const volatile u32 targ_uid = (u32)-1;
const volatile bool filter_port = false;
const volatile bool with_errors = false;
const volatile bool count_only = false;

struct event {
	u64 ts_us;
	u32 pid;
	u32 uid;
	int ret;
	u16 family;
	u16 protocol;
	u16 port;
	u8 opts;
	u8 addr[16];
	u32 bound_dev_if;
	char comm[16];
};
struct bind_key { u16 family; u16 port; u8 addr[16]; };
struct bind_call { long fd; u8 sa[28]; };   /* a sockaddr_in6 holds either family's address */

BPF_HASH(calls, u32, struct bind_call, 10240);
BPF_HASH(ports, u16, u8, 64);
BPF_HASH(counts, struct bind_key, u64, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

/* (inet_flags bit numbers: vmlinux.h's enum, which has no name to relocate by) OPTS: BCC's letters, in bit order: IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT, SO_REUSEADDR, SO_REUSEPORT */
static __always_inline u8 bind_options(struct sock *sk)
{
	struct inet_sock *inet = (struct inet_sock *)sk;
	unsigned long flags = BPF_CORE_READ(inet, inet_flags);
	u8 o = 0;
	if (flags & (1UL << INET_FLAGS_FREEBIND))
		o |= 1;
	if (flags & (1UL << INET_FLAGS_TRANSPARENT))
		o |= 2;
	if (flags & (1UL << INET_FLAGS_BIND_ADDRESS_NO_PORT))
		o |= 4;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse))
		o |= 8;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		o |= 16;
	return o;
}

TRACEPOINT_PROBE(syscalls, sys_enter_bind)
{
	u64 id = bpf_get_current_pid_tgid();
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (targ_uid != (u32)-1 && (u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	struct bind_call c = { .fd = args->fd };
	bpf_probe_read_user(&c.sa, sizeof(c.sa), (void *)args->umyaddr);
	u32 tid = id;
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_bind)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct bind_call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	int ret = args->ret;
	struct sock *sk = (struct sock *)current_fd_sock(c->fd);
	if (!sk || (ret && !with_errors))
		goto done;
	struct event e = { .ret = ret };
	u8 raddr[16];
	u16 rport;
	e.family = sock_endpoints(sk, e.addr, raddr, &e.port, &rport);
	if (!e.family)
		goto done;   /* not an IPv4 or IPv6 socket (AF_UNIX, ...) */
	if (ret) {
		/* nothing was bound: the address and port asked for (sockaddr_in: port at 2, address at 4; sockaddr_in6: 8) */
		e.port = __builtin_bswap16(*(u16 *)&c->sa[2]);
		if (e.family == AF_INET)
			__builtin_memcpy(e.addr, &c->sa[4], 4);
		else
			__builtin_memcpy(e.addr, &c->sa[8], 16);
	}
	if (filter_port && !bpf_map_lookup_elem(&ports, &e.port))
		goto done;
	if (count_only) {
		struct bind_key k = { .family = e.family, .port = e.port };
		__builtin_memcpy(k.addr, e.addr, 16);
		map_increment(counts, k);
		goto done;
	}
	e.ts_us = bpf_ktime_get_ns() / 1000;
	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.uid = bpf_get_current_uid_gid();
	e.protocol = BPF_CORE_READ(sk, sk_protocol);
	e.opts = bind_options(sk);
	e.bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	ringbuf_output(events, &e, sizeof(e));
done:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}
`;

interface Options {
  timestamp: boolean;
  wide: boolean;
  pid?: number;
  port?: Set<number>;
  errors: boolean;
  printUid: boolean;
  uid?: number;
  count: boolean;
}

interface BindEvent {
  ts_us: bigint; pid: number; uid: number; ret: number; family: number; protocol: number; port: number; opts: number; addr: number[];
  bound_dev_if: number; comm: string;
}

/** /etc/protocols' names of the IP protocols a socket can be bound with (BCC: socket's IPPROTO_* names). */
const PROTOCOLS: Record<number, string> = { 0: 'IP', 1: 'ICMP', 6: 'TCP', 17: 'UDP', 33: 'DCCP', 58: 'ICMPV6', 132: 'SCTP', 136: 'UDPLITE', 255: 'RAW', 262: 'MPTCP' };
const optionLetters = (bits: number) => [...'FTNRr'].map((l, i) => (bits & (1 << i) ? l : '.')).join('');
const errnoNames = Object.fromEntries(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

defineTool<Options>({
  name: 'bindsnoop',
  subsystem: 'net',
  description: 'Trace socket bind()s',
  ports: { bcc: 'tools/bindsnoop.py', 'libbpf-tools': 'libbpf-tools/bindsnoop.bpf.c' },
  probes: { tracepoint: ['syscalls/sys_enter_bind', 'syscalls/sys_exit_bind'] },
  output: ['event', 'counts'],
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['--count'], ends: 'ctrl-c' }, { args: ['-t', '-w', '-U', '-E'], ends: 'ctrl-c' }],
  records: o => ({ fields: o.count ? ['laddr', 'lport', 'binds'] : ['ts_ns', 'pid', 'uid', 'comm', 'ip', 'protocol', 'addr', 'port', 'opts', 'bound_dev_if', ...(o.errors ? ['ret'] : [])] }),
  program,
  options: {
    timestamp: opt.flag('t', 'include timestamp on output'),
    wide: opt.flag('w', 'wide column output (fits IPv6 addresses)'),
    pid: opt.pid(),
    port: opt.ports('P', 'comma-separated list of ports to trace.', 'port'),
    errors: opt.flag('E', 'include errors in the output.'),
    printUid: { ...opt.flag('U', 'include UID on output'), alias: ['U', 'print-uid'] },
    uid: opt.uid(),
    count: { type: 'boolean', describe: 'count binds per src ip and port', default: false },
  },
  examples: [
    ['bindsnoop', 'trace all TCP bind()s'],
    ['bindsnoop -t', 'include timestamps'],
    ['bindsnoop -w', 'wider columns (fit IPv6)'],
    ['bindsnoop -p 181', 'only trace PID 181'],
    ['bindsnoop -P 80', 'only trace port 80'],
    ['bindsnoop -P 80,81', 'only trace port 80 and 81'],
    ['bindsnoop -U', 'include UID'],
    ['bindsnoop -u 1000', 'only trace UID 1000'],
    ['bindsnoop -E', 'report bind errors'],
    ['bindsnoop --count', 'count bind per src ip'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: {
      targ_tgid: opts.pid ?? 0, targ_uid: opts.uid ?? 0xffffffff, filter_port: opts.port !== undefined, with_errors: opts.errors, count_only: opts.count,
    } });
    for (const p of opts.port ?? []) bpf.map('ports').set(p, 1);
    bpf.attachAll();
    process.stderr.write('bindsnoop: no kprobes here: tracing bind() at syscalls:sys_enter_bind/sys_exit_bind\n');
    banner('Tracing binds ... Hit Ctrl-C to end');
    const { wide } = opts;
    const [hdr, row] = wide
      ? ['%10s %-12.12s %-4s %-39s %-5s %5s %2s', '%10d %-12.12s %-4s %-39s %5d %-5s %2d']
      : ['%8s %-12.12s %-4s %-15s %-5s %5s %2s', '%8d %-12.12s %-4.4s %-15.15s %5d %-5s %2d'];
    const rcFmt = wide ? '%-25s ' : '%3s ';
    if (!opts.count) {
      if (!json) {
        out.line((opts.timestamp ? sprintf('%-9s ', 'TIME(s)') : '') + (opts.printUid ? sprintf('%6s ', 'UID') : '') +
          (opts.errors ? sprintf(rcFmt, 'RC') : '') + sprintf(hdr, 'PID', 'COMM', 'PROT', 'ADDR', 'PORT', 'OPTS', 'IF'));
      }
      let startUs: bigint | undefined;
      bpf.events<BindEvent>('events', 'event', e => {
        const addr = formatIp(e.family, e.addr);
        const prot = PROTOCOLS[e.protocol] ?? 'UNKNOWN';
        const options = optionLetters(e.opts);
        if (json) {
          emit.event({ pid: e.pid, uid: e.uid, comm: e.comm, ip: e.family === 10 ? 6 : 4, protocol: prot, addr, port: e.port, opts: options,
            bound_dev_if: e.bound_dev_if, ...(opts.errors ? { ret: e.ret } : {}) }, { tsNs: e.ts_us * 1000n });
          return;
        }
        startUs ??= e.ts_us;
        // -E: the return code; wide, its errno name (BCC prints strerror there)
        const rc = wide ? (e.ret ? errnoNames[-e.ret] ?? String(e.ret) : '0') : String(e.ret);
        out.line((opts.timestamp ? sprintf('%-9.6f ', Number(e.ts_us - startUs) / 1e6) : '') + (opts.printUid ? sprintf('%6d ', e.uid) : '') +
          (opts.errors ? sprintf(rcFmt, rc) : '') + sprintf(row, e.pid, e.comm, prot, addr, e.port, options, e.bound_dev_if));
      });
    }
    const startedMs = performance.now();
    await untilExit();
    if (opts.count) {
      const rows = bpf.map<{ family: number; port: number; addr: number[] }, bigint>('counts').entries()
        .map(([k, n]) => ({ family: k.family, laddr: formatIp(k.family, k.addr), lport: k.port, binds: Number(n) }))
        .sort((a, b) => (a.family - b.family) || (b.binds - a.binds)); // BCC: IPv4 then IPv6, most first
      if (json) emit.counts(Math.round(performance.now() - startedMs) / 1000, rows.map(({ family: _f, ...r }) => r));
      else {
        out.line('');
        out.line(sprintf('%-32s %20s     %-10s', 'LADDR', 'LPORT', 'BINDS'));
        for (const r of rows) out.line(sprintf('%-32s %20s     %-10d', r.laddr, r.lport, r.binds));
      }
    }
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`bindsnoop: lost ${lost} events\n`);
  },
});
