#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// tcprtt: the smoothed RTT of TCP sockets as a log2 histogram, one sample per segment received in the
// established state (BCC's tcprtt). BCC reads tcp_sock's srtt_us at kprobe:tcp_rcv_established; here the
// tcp:tcp_probe tracepoint, which that function fires first, carries the same srtt (in µs) and the socket's
// addresses. -b/-B section by local/remote address, IPv6 as IPv4 (BCC keys IPv4 addresses only).
import { defineTool, opt } from '../../lib/cli/index.js';
import { intervalSchedule, UsageError } from '../../lib/cli/options.js';
import { familyFilter, formatIp, parseIp } from '../../lib/host/net.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_net.h>   /* AF_* */

const volatile u16 targ_family = 0;
const volatile u16 targ_lport = 0;
const volatile u16 targ_rport = 0;
const volatile u16 targ_laddr_family = 0;
const volatile u8 targ_laddr[16] = {};
const volatile u16 targ_raddr_family = 0;
const volatile u8 targ_raddr[16] = {};
const volatile u8 section_by = 0;          /* 0: all, 1: local address, 2: remote address */
const volatile bool in_ms = false;
const volatile bool want_average = false;

struct addr_key {
	u16 family;
	u8 addr[16];
};
struct hist_key {
	struct addr_key who;
	u16 __pad[3];   /* a hash key has no unnamed padding: its bytes are compared */
	u64 slot;
};
struct latency_sum { u64 latency; u64 count; };

BPF_HISTOGRAM(hist_srtt, struct hist_key, 1024);
BPF_HASH(latency, struct addr_key, struct latency_sum, 1024);

/* tcp_probe's addresses are sockaddrs: the IPv4 address at offset 4 (sockaddr_in), IPv6 at 8 (sockaddr_in6) */
static __always_inline void sockaddr_ip(const u8 *sa, u16 family, u8 *out)
{
	if (family == AF_INET)
		__builtin_memcpy(out, sa + 4, 4);
	else
		__builtin_memcpy(out, sa + 8, 16);
}

static __always_inline bool same_addr(const u8 *a, const volatile u8 *b)
{
	for (int i = 0; i < 16; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

TRACEPOINT_PROBE(tcp, tcp_probe)
{
	u16 family = args->family;
	if ((family != AF_INET && family != AF_INET6) || (targ_family && family != targ_family))
		return 0;
	if ((targ_lport && args->sport != targ_lport) || (targ_rport && args->dport != targ_rport))
		return 0;
	u8 laddr[16] = {}, raddr[16] = {};
	sockaddr_ip(args->saddr, family, laddr);
	sockaddr_ip(args->daddr, family, raddr);
	if (targ_laddr_family && (family != targ_laddr_family || !same_addr(laddr, targ_laddr)))
		return 0;
	if (targ_raddr_family && (family != targ_raddr_family || !same_addr(raddr, targ_raddr)))
		return 0;
	u64 srtt = args->srtt;
	if (in_ms)
		srtt /= 1000;
	struct hist_key key = {};
	if (section_by) {
		key.who.family = family;
		__builtin_memcpy(key.who.addr, section_by == 1 ? laddr : raddr, 16);
	}
	key.slot = bpf_log2l(srtt);
	map_increment(hist_srtt, key);
	if (want_average) {
		struct latency_sum zero = {};
		struct latency_sum *sum = map_lookup_or_try_init(latency, &key.who, &zero);
		if (sum) {
			__sync_fetch_and_add(&sum->latency, srtt);
			__sync_fetch_and_add(&sum->count, 1);
		}
	}
	return 0;
}
`;

/** --json's section_by: -b by local address, -B by remote, else the one section of all addresses. */
const sectionBy = (o: Options) => (o.byladdr ? 'laddr' : o.byraddr ? 'raddr' : 'all');

interface Options {
  interval?: number;
  duration?: number;
  timestamp: boolean;
  milliseconds: boolean;
  lport?: number;
  rport?: number;
  laddr?: string;
  raddr?: string;
  byladdr: boolean;
  byraddr: boolean;
  extension: boolean;
  showBpf: boolean;
  ipv4: boolean;
  ipv6: boolean;
}

interface AddrKey { family: number; addr: number[] }

const address = (what: string) => (v: unknown) => {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  if (!parseIp(s)) throw new UsageError(`invalid ${what}: '${s}' (not an IPv4 or IPv6 address)`);
  return s;
};

const port = (alias: string, describe: string, what: string) => ({ ...opt.int(alias, describe, what), coerce: (v: unknown) => {
  const n = opt.int(alias, describe, what).coerce!(v) as number | undefined;
  if (n !== undefined && (n < 1 || n > 65535)) throw new UsageError(`invalid ${what}: '${n}' (a port is 1 to 65535)`);
  return n;
} });

defineTool<Options>({
  name: 'tcprtt',
  subsystem: 'net',
  description: 'Summarize TCP RTT as a histogram',
  ports: { bcc: 'tools/tcprtt.py', 'libbpf-tools': 'libbpf-tools/tcprtt.bpf.c' },
  probes: { tracepoint: ['tcp/tcp_probe'] },
  output: 'histogram',
  invocations: [{ args: ['-d', '1'], ends: 'itself' }, { args: ['-i', '0.5', '-d', '1', '-B', '-e', '-m', '-T'], ends: 'itself' }],
  records: o => ({ sectionBy: sectionBy(o) }),
  program,
  options: {
    interval: opt.interval('summary interval, seconds'),
    duration: opt.duration('total duration of trace, seconds'),
    timestamp: opt.flag('T', 'include timestamp on output'),
    milliseconds: opt.flag('m', 'millisecond histogram'),
    lport: port('p', 'filter for local port', 'local port'),
    rport: port('P', 'filter for remote port', 'remote port'),
    laddr: { alias: 'a', type: 'string', describe: 'filter for local address', coerce: address('local address') },
    raddr: { alias: 'A', type: 'string', describe: 'filter for remote address', coerce: address('remote address') },
    byladdr: opt.flag('b', 'show sockets histogram by local address'),
    byraddr: opt.flag('B', 'show sockets histogram by remote address'),
    extension: opt.flag('e', 'show extension summary(average)'),
    showBpf: { ...opt.flag('D', 'print BPF program before starting (for debugging purposes)'), alias: ['D', 'show-bpf'] },
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
  },
  examples: [
    ['tcprtt', 'summarize TCP RTT'],
    ['tcprtt -i 1 -d 10', 'print 1 second summaries, 10 times'],
    ['tcprtt -m -T', 'summarize in millisecond, and timestamps'],
    ['tcprtt -p 80', 'filter for local port'],
    ['tcprtt -P 80', 'filter for remote port'],
    ['tcprtt -a 10.0.0.1', 'filter for local address'],
    ['tcprtt -A 10.0.0.2', 'filter for remote address'],
    ['tcprtt -b', 'show sockets histogram by local address'],
    ['tcprtt -B', 'show sockets histogram by remote address'],
    ['tcprtt -D', 'show debug bpf text'],
    ['tcprtt -e', 'show extension summary(average)'],
    ['tcprtt -4', 'trace only IPv4 family'],
    ['tcprtt -6', 'trace only IPv6 family'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    if (o.byladdr && o.byraddr) return 'use only one of -b and -B';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    if (opts.showBpf) process.stderr.write(program);
    const [laddr, raddr] = [opts.laddr, opts.raddr].map(a => (a === undefined ? undefined : parseIp(a)!));
    const bpf = load({ rodata: {
      targ_family: familyFilter(opts), targ_lport: opts.lport ?? 0, targ_rport: opts.rport ?? 0,
      targ_laddr_family: laddr?.family ?? 0, targ_laddr: laddr?.bytes ?? Array(16).fill(0),
      targ_raddr_family: raddr?.family ?? 0, targ_raddr: raddr?.bytes ?? Array(16).fill(0),
      section_by: opts.byladdr ? 1 : opts.byraddr ? 2 : 0, in_ms: opts.milliseconds, want_average: opts.extension,
    } });
    bpf.attachAll();
    process.stderr.write('tcprtt: no kprobes here: srtt from tcp:tcp_probe (fired by tcp_rcv_established)\n');
    banner('Tracing TCP RTT... Hit Ctrl-C to end.');
    const dist = bpf.histogram('hist_srtt');
    const latency = bpf.map<AddrKey, { latency: bigint; count: bigint }>('latency');
    const label = opts.milliseconds ? 'msecs' : 'usecs';
    const sectionHeader = opts.byladdr ? 'Local Address' : opts.byraddr ? 'Remote Address' : 'All Addresses';
    const { interval, count } = intervalSchedule(opts);
    await intervals(interval, count, () => {
      const data = dist.read(true);
      const averages = new Map(latency.drain().map(([k, v]) => [addrText(k), v.count ? Number(v.latency / v.count) : 0]));
      if (json) {
        const body = dist.json(label, { sectionHeader: sectionBy(opts), sectionFormat: addrText }, data);
        if ('sections' in body && opts.extension) {
          emit.histogram({ ...body, sections: body.sections.map(s => ({ ...s, average: averages.get(String(s.key)) ?? null })) });
        } else emit.histogram(body);
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(sprintf('%-8s', strftimeHMS()));
      out.write(dist.format(label, {
        sectionHeader,
        sectionFormat: (k: AddrKey) => addrText(k) + (opts.extension ? ` [AVG ${averages.get(addrText(k)) ?? 0}]` : ''),
      }, data));
    });
  },
});

/** BCC prints "*******" for the one section of all addresses. */
function addrText(k: { who?: AddrKey } & Partial<AddrKey>): string {
  const a = (k.who ?? k) as AddrKey;
  return a.family ? formatIp(a.family, a.addr) : '*******';
}
