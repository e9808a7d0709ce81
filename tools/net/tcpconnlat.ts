#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcpconnlat: how long each active TCP connect takes, SYN sent to SYN-ACK received (BCC's tcpconnlat).
// BCC times kprobe:tcp_v4/v6_connect to kprobe:tcp_rcv_state_process; without kprobes here the same two
// moments are sock:inet_sock_set_state CLOSE->SYN_SENT (inside connect(), so the caller's PID and comm)
// and SYN_SENT->ESTABLISHED (the SYN-ACK's arrival, which also gives the local port).
import { defineTool, opt } from '../../lib/cli/index.js';
import { nonNegativeNumber } from '../../lib/cli/options.js';
import { sprintf } from '../../lib/output/index.js';
import { familyFilter, sessionAddrs } from '../../lib/host/net.js';

const program = `
#include <bpfkit_net.h>   /* TCP states, copy_set_state_addrs() */

const volatile u32 targ_tgid = 0;
const volatile u16 targ_family = 0;
const volatile u64 min_us = 0;

struct connecting {
	u64 start_ns;
	u32 pid;
	char comm[16];
};

struct event {
	u64 ts_us;
	u64 delta_us;
	u32 pid;
	u16 family;
	u16 lport;
	u16 dport;
	u8 saddr[16];
	u8 daddr[16];
	char comm[16];
};

BPF_HASH(start, u64, struct connecting, 10240);   /* socket -> its connect() */
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	u64 sk = args->skaddr;
	if (args->oldstate == TCP_CLOSE && args->newstate == TCP_SYN_SENT) {
		if (targ_family && args->family != targ_family)
			return 0;
		u32 pid = bpfkit_tgid();
		if (targ_tgid && pid != targ_tgid)
			return 0;
		struct connecting c = { .start_ns = bpf_ktime_get_ns(), .pid = pid };
		bpf_get_current_comm(&c.comm, sizeof(c.comm));
		bpf_map_update_elem(&start, &sk, &c, BPF_ANY);
		return 0;
	}
	if (args->oldstate != TCP_SYN_SENT)
		return 0;
	struct connecting *c = bpf_map_lookup_elem(&start, &sk);
	if (!c)
		return 0;
	u64 now = bpf_ktime_get_ns();
	u64 delta_us = (now - c->start_ns) / 1000;
	/* SYN_SENT -> CLOSE is a refused or timed-out connect: no latency, as BCC */
	if (args->newstate == TCP_ESTABLISHED && delta_us >= min_us) {
		struct event *e = ringbuf_reserve(events, struct event);
		if (e) {
			e->ts_us = now / 1000;
			e->delta_us = delta_us;
			e->pid = c->pid;
			__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
			e->family = args->family;
			e->lport = args->sport;
			e->dport = args->dport;
			copy_set_state_addrs(args, e->saddr, e->daddr);
			ringbuf_submit(events, e);
		}
	}
	bpf_map_delete_elem(&start, &sk);
	return 0;
}
`;

interface Options {
  timestamp: boolean;
  pid?: number;
  lport: boolean;
  ipv4: boolean;
  ipv6: boolean;
  verbose: boolean;
  duration_ms?: string;
}

interface ConnlatEvent {
  ts_us: bigint; delta_us: bigint; pid: number; family: number; lport: number; dport: number; saddr: number[]; daddr: number[]; comm: string;
}

const minimumMs = (o: Options) => nonNegativeNumber('minimum duration (ms)')(o.duration_ms) ?? 0;

defineTool<Options>({
  name: 'tcpconnlat',
  subsystem: 'net',
  description: 'Trace TCP connects and show connection latency',
  ports: { bcc: 'tools/tcpconnlat.py', 'libbpf-tools': 'libbpf-tools/tcpconnlat.bpf.c' },
  probes: { tracepoint: ['sock/inet_sock_set_state'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-t', '-L'], ends: 'ctrl-c' }],
  records: o => ({ fields: ['ts_ns', 'pid', 'comm', 'ip', 'saddr', ...(o.lport ? ['lport'] : []), 'daddr', 'dport', 'latency_ms'] }),
  program,
  options: {
    timestamp: opt.flag('t', 'include timestamp on output'),
    pid: opt.pid(),
    lport: opt.flag('L', 'include LPORT on output'),
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
    verbose: opt.flag('v', 'print the BPF program for debugging purposes'),
  },
  positional: '[duration_ms]',
  examples: [
    ['tcpconnlat', 'trace all TCP connect()s'],
    ['tcpconnlat 1', 'trace connection latency slower than 1 ms'],
    ['tcpconnlat 0.1', 'trace connection latency slower than 100 us'],
    ['tcpconnlat -t', 'include timestamps'],
    ['tcpconnlat -p 181', 'only trace PID 181'],
    ['tcpconnlat -L', 'include LPORT while printing outputs'],
    ['tcpconnlat -4', 'trace IPv4 family only'],
    ['tcpconnlat -6', 'trace IPv6 family only'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    minimumMs(o); // a UsageError for a minimum that is not a number of milliseconds
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    if (opts.verbose) process.stderr.write(program);
    // BCC rounds fractions to the nearest microsecond
    const minUs = Math.round(minimumMs(opts) * 1000);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_family: familyFilter(opts), min_us: BigInt(minUs) } });
    bpf.attachAll();
    process.stderr.write('tcpconnlat: no kprobes here: timing connects at sock:inet_sock_set_state CLOSE->SYN_SENT->ESTABLISHED\n');
    if (!json) {
      out.line((opts.timestamp ? sprintf('%-9s', 'TIME(s)') : '') + (opts.lport
        ? sprintf('%-7s %-12s %-2s %-16s %-6s %-16s %-5s %s', 'PID', 'COMM', 'IP', 'SADDR', 'LPORT', 'DADDR', 'DPORT', 'LAT(ms)')
        : sprintf('%-7s %-12s %-2s %-16s %-16s %-5s %s', 'PID', 'COMM', 'IP', 'SADDR', 'DADDR', 'DPORT', 'LAT(ms)')));
    }
    let startUs: bigint | undefined;
    bpf.events<ConnlatEvent>('events', 'event', e => {
      const { ip, saddr, daddr } = sessionAddrs(e);
      const ms = Number(e.delta_us) / 1000;
      if (json) {
        emit.event({ pid: e.pid, comm: e.comm, ip, saddr, ...(opts.lport ? { lport: e.lport } : {}), daddr, dport: e.dport, latency_ms: ms },
          { tsNs: e.ts_us * 1000n });
        return;
      }
      startUs ??= e.ts_us;
      out.line((opts.timestamp ? sprintf('%-9.3f', Number(e.ts_us - startUs) / 1e6) : '') + (opts.lport
        ? sprintf('%-7d %-12.12s %-2d %-16s %-6d %-16s %-5d %.2f', e.pid, e.comm, ip, saddr, e.lport, daddr, e.dport, ms)
        : sprintf('%-7d %-12.12s %-2d %-16s %-16s %-5d %.2f', e.pid, e.comm, ip, saddr, daddr, e.dport, ms)));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcpconnlat: lost ${lost} events\n`);
  },
});
