#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// tcpsubnet: TCP bytes sent, summed by the destination's subnet, the first matching subnet of a list in its
// order (BCC's tcpsubnet). BCC reads the size and sk->skc_daddr at kprobe:tcp_sendmsg; without kprobes here
// sock:sock_send_length (every sendmsg()/write() on a socket returning, with the bytes it took) filtered to
// TCP gives the bytes and the socket, whose destination is read through BTF. IPv6 subnets work too.
import { defineTool, opt } from '../../lib/cli/index.js';
import { UsageError } from '../../lib/cli/options.js';
import { AF_INET, parseIp } from '../../lib/host/net.js';
import { sprintf } from '../../lib/output/index.js';

const MAX_SUBNETS = 32;

const program = `
#include <bpfkit_net.h>   /* AF_*, IPPROTO_TCP */

#define MAX_SUBNETS ${MAX_SUBNETS}

const volatile u32 n_subnets = 0;
/* each subnet's address and mask as two big-endian-in-memory u64 halves (IPv4: the first 4 bytes) */
const volatile u16 subnet_family[MAX_SUBNETS] = {};
const volatile u64 subnet_addr[MAX_SUBNETS * 2] = {};
const volatile u64 subnet_mask[MAX_SUBNETS * 2] = {};

BPF_ARRAY(sent_bytes, u64, MAX_SUBNETS);

TRACEPOINT_PROBE(sock, sock_send_length)
{
	if (args->protocol != IPPROTO_TCP || args->ret <= 0)
		return 0;
	u16 family = args->family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct sock *sk = args->sk;
	u64 daddr[2] = {};
	if (family == AF_INET)
		bpf_core_read(daddr, 4, &sk->__sk_common.skc_daddr);
	else
		bpf_core_read(daddr, 16, &sk->__sk_common.skc_v6_daddr);
	for (u32 i = 0; i < MAX_SUBNETS && i < n_subnets; i++) {
		if (subnet_family[i] != family || (daddr[0] & subnet_mask[2 * i]) != subnet_addr[2 * i] ||
		    (daddr[1] & subnet_mask[2 * i + 1]) != subnet_addr[2 * i + 1])
			continue;
		u64 *sum = bpf_map_lookup_elem(&sent_bytes, &i);
		if (sum)
			__sync_fetch_and_add(sum, (u64)args->ret);
		break;   /* the first match only, as BCC */
	}
	return 0;
}
`;

const DEFAULT_SUBNETS = '127.0.0.1/32,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,0.0.0.0/0';

interface Subnet { text: string; family: number; addr: bigint[]; mask: bigint[] }

/** "10.0.0.0/8" or "fd00::/64": its family and the address and mask as the BPF side compares them. */
function parseSubnet(text: string): Subnet {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const ip = m ? parseIp(m[1]) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  const width = ip?.family === AF_INET ? 32 : 128;
  if (!ip || !(bits <= width)) throw new UsageError(`invalid subnet: '${text}' (an address/prefix length, e.g. 10.0.0.0/8)`);
  const maskBytes = Array.from({ length: 16 }, (_, i) => (i * 8 >= bits ? 0 : i * 8 + 8 <= bits ? 0xff : (0xff << (8 - (bits - i * 8))) & 0xff));
  const masked = ip.bytes.map((b, i) => b & maskBytes[i]);
  // the kernel's address bytes read as little-endian u64s on this (x86/arm64 little-endian) machine
  const halves = (bytes: number[]) => [0, 8].map(o => Buffer.from(bytes.slice(o, o + 8)).readBigUInt64LE());
  return { text, family: ip.family, addr: halves(masked), mask: halves(maskBytes) };
}

function subnetList(v: unknown): Subnet[] {
  const s = String(Array.isArray(v) ? v[v.length - 1] : v ?? DEFAULT_SUBNETS);
  const list = s.split(',').map(t => t.trim()).filter(Boolean).map(parseSubnet);
  if (!list.length) throw new UsageError('no subnets given');
  if (list.length > MAX_SUBNETS) throw new UsageError(`too many subnets: ${list.length} (at most ${MAX_SUBNETS})`);
  return list;
}

/** BCC's -f letters: the unit and how many bytes make one. */
const FORMATS: Record<string, { field: string; per: number }> = {
  b: { field: 'bits', per: 1 / 8 }, k: { field: 'kbits', per: 1024 / 8 }, m: { field: 'mbits', per: 1024 * 1024 / 8 },
  B: { field: 'bytes', per: 1 }, K: { field: 'kbytes', per: 1024 }, M: { field: 'mbytes', per: 1024 * 1024 },
};
function formatLetter(v: unknown): string {
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  if (!Object.hasOwn(FORMATS, s)) throw new UsageError(`invalid format: '${s}' (one of ${Object.keys(FORMATS).join(' ')})`);
  return s;
}
const valueField = (o: { format: string }) => FORMATS[o.format].field;

interface Options {
  subnets?: string;
  verbose: boolean;
  format: string;
  interval: number;
}

defineTool<Options>({
  name: 'tcpsubnet',
  subsystem: 'net',
  description: 'Summarize TCP send and aggregate by subnet',
  ports: { bcc: 'tools/tcpsubnet.py' },
  probes: { tracepoint: ['sock/sock_send_length'] },
  output: 'counts',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-f', 'K', '-i', '0.5', '127.0.0.0/8,0.0.0.0/0'], ends: 'ctrl-c' }],
  records: o => ({ fields: ['subnet', valueField(o)] }),
  program,
  positional: '[subnets]',
  jsonFlag: 'J',
  options: {
    verbose: opt.flag('v', 'output debug statements'),
    format: { alias: 'f', type: 'string', default: 'B', choices: Object.keys(FORMATS), coerce: formatLetter,
      describe: '[bkmBKM] format to report: bits, Kbits, Mbits, bytes, KBytes, MBytes' },
    interval: { ...opt.interval('output interval, in seconds'), default: 1 },
  },
  examples: [
    ['tcpsubnet', 'Trace TCP sent to the default subnets: ' + DEFAULT_SUBNETS],
    ['tcpsubnet -f K', 'Trace TCP sent to the default subnets aggregated in KBytes'],
    ['tcpsubnet 10.80.0.0/24', 'Trace TCP sent to 10.80.0.0/24 only'],
    ['tcpsubnet -J', 'Format the output in JSON'],
  ],
  validate(o) {
    subnetList(o.subnets); // throws the usage error
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const subnets = subnetList(opts.subnets);
    if (opts.verbose) {
      process.stderr.write(`tcpsubnet: subnets, first match wins: ${subnets.map(s => s.text).join(', ')}\n`);
      process.stderr.write(program);
    }
    const padded = <T>(xs: T[], fill: T, per = 1) => [...xs, ...Array(MAX_SUBNETS * per - xs.length).fill(fill)];
    const bpf = load({ rodata: {
      n_subnets: subnets.length,
      subnet_family: padded(subnets.map(s => s.family), 0),
      subnet_addr: padded(subnets.flatMap(s => s.addr), 0n, 2),
      subnet_mask: padded(subnets.flatMap(s => s.mask), 0n, 2),
    } });
    bpf.attachAll();
    process.stderr.write('tcpsubnet: no kprobes here: bytes sent from sock:sock_send_length (TCP), the destination from the socket\n');
    banner(`Tracing... Output every ${opts.interval} secs. Hit Ctrl-C to end`);
    const sent = bpf.map<number, bigint>('sent_bytes');
    const { field, per } = FORMATS[opts.format];
    // the sums only grow: each interval prints what they grew by (no reset that could lose a send)
    const before = subnets.map(() => 0n);
    await intervals(opts.interval, 99999999, (_last, seconds) => {
      const rows = subnets.map((s, i) => {
        const now = sent.get(i) ?? 0n;
        const bytes = now - before[i];
        before[i] = now;
        return { subnet: s.text, bytes };
      }).filter(r => r.bytes > 0n).sort((a, b) => (b.bytes > a.bytes ? 1 : b.bytes < a.bytes ? -1 : 0));
      const value = (bytes: bigint) => Math.floor(Number(bytes) / per);
      if (json) {
        emit.counts(seconds, rows.map(r => ({ subnet: r.subnet, [field]: value(r.bytes) })));
        return;
      }
      out.line(`[${bccDate(new Date())}]`);
      for (const r of rows) out.line(sprintf('%-21s %6d', r.subnet, value(r.bytes)));
    });
  },
});

/** Python's strftime("%m/%d/%y %H:%M:%S"), as BCC stamps each interval. */
function bccDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}/${p(d.getDate())}/${p(d.getFullYear() % 100)} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
