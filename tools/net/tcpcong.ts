#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// tcpcong: how long TCP sockets spend in each congestion state (open, disorder, cwr, recovery, loss) and how
// often they change, per socket as a table or as histograms of the stays by state (BCC's tcpcong). BCC
// probes the congestion functions with kprobes; here the tcp:tcp_cong_state_set tracepoint (every change of
// icsk_ca_state) does, with sock:inet_sock_set_state for a session's start (established: open) and end.
// As BCC, each interval shows the sessions whose state changed in it, with the time each spent in each
// state during that interval (BCC clears its table every interval), IPv4 and IPv6 in tables of their own.
import { defineTool, opt } from '../../lib/cli/index.js';
import { intervalCount, UsageError } from '../../lib/cli/options.js';
import { AF_INET, formatIp } from '../../lib/host/net.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_net.h>   /* AF_*, TCP states */

#define MAX_RANGES 8
const volatile u32 n_lranges = 0;
const volatile u32 n_rranges = 0;
const volatile u16 lrange_lo[MAX_RANGES] = {};
const volatile u16 lrange_hi[MAX_RANGES] = {};
const volatile u16 rrange_lo[MAX_RANGES] = {};
const volatile u16 rrange_hi[MAX_RANGES] = {};
const volatile bool in_ms = false;

struct ends { u16 family; u16 lport; u16 rport; u8 laddr[16]; u8 raddr[16]; };
struct sock_state { struct ends who; u64 since_ns; u32 state; };
struct times { u64 ns[5]; u64 changes; };
struct hist_key { u32 state; u32 __pad; u64 slot; }; /* a hash key has no unnamed padding: its bytes are compared */

BPF_HASH(sockets, u64, struct sock_state, 10240);
BPF_HASH(totals, struct ends, struct times, 10240);
BPF_HISTOGRAM(stays, struct hist_key, 256);

static __always_inline bool in_ranges(u16 port, u32 n, const volatile u16 *lo, const volatile u16 *hi)
{
	if (!n)
		return true;
	for (u32 i = 0; i < MAX_RANGES && i < n; i++)
		if (port >= lo[i] && port <= hi[i])
			return true;
	return false;
}

/* the time since the last change goes to the state the socket was in */
static __always_inline void account(struct sock_state *s, u64 now, bool change)
{
	u32 old = s->state;
	u64 stay = now - s->since_ns;
	struct times zero = {};
	struct times *t = map_lookup_or_try_init(totals, &s->who, &zero);
	if (t && old < 5) {
		__sync_fetch_and_add(&t->ns[old], stay);
		if (change)
			__sync_fetch_and_add(&t->changes, 1);
	}
	struct hist_key key = { .state = old, .slot = bpf_log2l(in_ms ? stay / 1000000 : stay / 1000) };
	map_increment(stays, key);
	s->since_ns = now;
}

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	u64 sk = args->skaddr;
	if (args->newstate == TCP_ESTABLISHED) {
		if (!in_ranges(args->sport, n_lranges, lrange_lo, lrange_hi) || !in_ranges(args->dport, n_rranges, rrange_lo, rrange_hi))
			return 0;
		struct sock_state s = { .since_ns = bpf_ktime_get_ns(), .state = 0 };
		s.who.family = args->family;
		s.who.lport = args->sport;
		s.who.rport = args->dport;
		copy_set_state_addrs(args, s.who.laddr, s.who.raddr);
		bpf_map_update_elem(&sockets, &sk, &s, BPF_ANY);
		return 0;
	}
	if (args->oldstate != TCP_ESTABLISHED)
		return 0;
	struct sock_state *s = bpf_map_lookup_elem(&sockets, &sk);
	if (s) {
		account(s, bpf_ktime_get_ns(), false);   /* leaving established: the session's last stay */
		bpf_map_delete_elem(&sockets, &sk);
	}
	return 0;
}

TRACEPOINT_PROBE(tcp, tcp_cong_state_set)
{
	u64 sk = (u64)args->skaddr;
	struct sock_state *s = bpf_map_lookup_elem(&sockets, &sk);
	if (!s || args->cong_state == s->state)
		return 0;
	account(s, bpf_ktime_get_ns(), true);
	s->state = args->cong_state;
	return 0;
}
`;

const STATES = ['open', 'disorder', 'cwr', 'recovery', 'loss'];
const COLUMNS = ['Open', 'Dod', 'Rcov', 'Cwr', 'Los']; // BCC's order: open, disorder, recovery, cwr, loss
const COLUMN_STATE = [0, 1, 3, 2, 4];
/** BCC's tables, as its format strings have them (the IPv4 header lacks the space its rows have after the first column). */
const TABLES = {
  4: { header: '%-21s%-21s %-7s %-6s %-7s %-7s %-6s %-5s', row: '%-21s %-21s %-7d %-6d %-7d %-7d %-6d %-5d', ends: ['LAddrPort', 'RAddrPort'] },
  6: { header: '%-32s %-32s %-7s %-6s %-7s %-7s %-6s %-5s', row: '%-32s %-32s %-7d %-7d %-7d %-6d %-6d %-5d', ends: ['LAddrPort6', 'RAddrPort6'] },
} as const;

interface Options {
  interval?: string;
  outputs?: string;
  timestamp: boolean;
  dist: boolean;
  localport?: [number, number][];
  remoteport?: [number, number][];
  microseconds: boolean;
}

interface Ends { family: number; lport: number; rport: number; laddr: number[]; raddr: number[] }

/** BCC's -L/-R: "80" or "8000-8080" (a reversed range swapped, as BCC does); here also several, comma-separated, at most 8. */
function portRanges(what: string) {
  return (v: unknown): [number, number][] | undefined => {
    if (v === undefined) return undefined;
    const s = String(Array.isArray(v) ? v[v.length - 1] : v);
    const ranges = s.split(',').map(part => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
      const [a, b] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [NaN, NaN];
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      if (!(lo >= 0 && hi <= 65535)) throw new UsageError(`invalid ${what}: '${part}' (a port or a range, e.g. 8000-8080)`);
      return [lo, hi] as [number, number];
    });
    if (ranges.length > 8) throw new UsageError(`too many ${what}s: ${ranges.length} (at most 8)`);
    return ranges;
  };
}

const unit = (o: Options) => (o.microseconds ? 'us' : 'ms');

defineTool<Options>({
  name: 'tcpcong',
  subsystem: 'net',
  description: 'Summarize tcp socket congestion control status duration',
  ports: { bcc: 'tools/tcpcong.py' },
  probes: { tracepoint: ['sock/inet_sock_set_state', 'tcp/tcp_cong_state_set'] },
  output: ['counts', 'histogram'],
  invocations: [{ args: ['1', '2'], ends: 'itself' }, { args: ['-d', '-u', '1', '1'], ends: 'itself' }],
  records: o => (o.dist ? { sectionBy: 'state' } : { fields: ['laddr', 'lport', 'raddr', 'rport', ...STATES.map(s => `${s}_${unit(o)}`), 'changes'] }),
  program,
  positional: '[interval] [outputs]',
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    dist: opt.flag('d', 'show distributions as histograms'),
    localport: { alias: 'L', type: 'string', describe: 'trace local ports only', coerce: portRanges('local port') },
    remoteport: { alias: 'R', type: 'string', describe: 'trace the dest ports only', coerce: portRanges('remote port') },
    microseconds: opt.flag('u', 'output in microseconds'),
  },
  examples: [
    ['tcpcong', 'show tcp congestion status duration'],
    ['tcpcong 1 10', 'show 1 second summaries, 10 times'],
    ['tcpcong -L 3000-3006 1', '1s summaries, local port 3000-3006'],
    ['tcpcong -R 5000-5005 1', '1s summaries, remote port 5000-5005'],
    ['tcpcong -uT 1', '1s summaries, microseconds, and timestamps'],
    ['tcpcong -d', 'show the duration as histograms'],
  ],
  validate(o) {
    intervalCount({ interval: o.interval, count: o.outputs });
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals, monotonicNs }) {
    const ranges = (r: [number, number][] | undefined, i: 0 | 1) => [...(r ?? []).map(x => x[i]), ...Array(8 - (r?.length ?? 0)).fill(0)];
    const bpf = load({ rodata: {
      n_lranges: opts.localport?.length ?? 0, n_rranges: opts.remoteport?.length ?? 0,
      lrange_lo: ranges(opts.localport, 0), lrange_hi: ranges(opts.localport, 1),
      rrange_lo: ranges(opts.remoteport, 0), rrange_hi: ranges(opts.remoteport, 1),
      in_ms: !opts.microseconds,
    } });
    bpf.attachAll();
    process.stderr.write('tcpcong: no kprobes here: congestion state changes from tcp:tcp_cong_state_set, sessions from sock:inet_sock_set_state\n');
    banner('Tracing tcp congestion control status duration... Hit Ctrl-C to end.');
    const totals = bpf.map<Ends, { ns: bigint[]; changes: bigint }>('totals');
    const sockets = bpf.map<bigint, { who: Ends; since_ns: bigint; state: number }>('sockets');
    const stays = bpf.histogram('stays');
    const per = opts.microseconds ? 1000n : 1000000n;
    const { interval, count } = intervalCount({ interval: opts.interval, count: opts.outputs });
    const addr = (e: Ends, which: 'l' | 'r') => formatIp(e.family, which === 'l' ? e.laddr : e.raddr);
    const stateOrder = (a: string | number, b: string | number) => STATES.indexOf(String(a)) - STATES.indexOf(String(b));
    // each session's times and changes since the tool started, at the last interval: an interval shows what they grew by
    const before = new Map<string, { ns: bigint[]; changes: bigint }>();
    await intervals(interval, count, (_last, seconds) => {
      if (!json) {
        out.line('');
        if (opts.timestamp) out.line(strftimeHMS());
      }
      if (opts.dist) {
        const data = stays.read(true);
        const label = opts.microseconds ? 'usecs' : 'msecs';
        const stateName = (state: number) => STATES[state] ?? String(state); // the key but its slot: the state
        if (json) return void emit.histogram(stays.json(label, { sectionHeader: 'state', sectionFormat: stateName, sectionSort: stateOrder }, data));
        out.write(stays.format(label, { sectionHeader: 'tcp_congest_state', sectionFormat: stateName, sectionSort: stateOrder }, data));
        return;
      }
      // since the tool started: the stays ended so far, plus each open session's current stay up to now
      const sums = new Map<string, { who: Ends; ns: bigint[]; changes: bigint }>();
      const keyOf = (e: Ends) => `${addr(e, 'l')}/${e.lport}/${addr(e, 'r')}/${e.rport}`;
      for (const [who, t] of totals.entries()) sums.set(keyOf(who), { who, ns: [...t.ns], changes: t.changes });
      const now = monotonicNs();
      for (const [, s] of sockets.entries()) {
        const sum = sums.get(keyOf(s.who)) ?? { who: s.who, ns: [0n, 0n, 0n, 0n, 0n], changes: 0n };
        if (s.state < 5 && now > s.since_ns) sum.ns[s.state] += now - s.since_ns;
        sums.set(keyOf(s.who), sum);
      }
      const rows = [];
      for (const [key, sum] of sums) {
        const last = before.get(key);
        before.set(key, { ns: sum.ns, changes: sum.changes });
        const grew = (now: bigint, then = 0n) => (now > then ? now - then : 0n); // (a stay read as it ended: caught up next time)
        const row = { who: sum.who, ns: sum.ns.map((n, i) => grew(n, last?.ns[i])), changes: grew(sum.changes, last?.changes) };
        if (row.changes > 0n) rows.push(row); // BCC's rows: the sessions that changed state
      }
      rows.sort((a, b) => a.who.lport - b.who.lport);
      if (json) {
        emit.counts(seconds, rows.map(r => ({
          laddr: addr(r.who, 'l'), lport: r.who.lport, raddr: addr(r.who, 'r'), rport: r.who.rport,
          ...Object.fromEntries(STATES.map((s, i) => [`${s}_${unit(opts)}`, Number(r.ns[i] / per)])), changes: Number(r.changes),
        })));
        return;
      }
      const u = unit(opts);
      for (const family of [4, 6] as const) {
        const mine = rows.filter(r => (r.who.family === AF_INET) === (family === 4));
        if (!mine.length) continue;
        const table = TABLES[family];
        out.line(sprintf(table.header, ...table.ends, ...COLUMNS.map(c => `${c}_${u}`), 'Chgs'));
        for (const r of mine) {
          out.line(sprintf(table.row, `${addr(r.who, 'l')}/${r.who.lport}`, `${addr(r.who, 'r')}/${r.who.rport}`,
            ...COLUMN_STATE.map(i => Number(r.ns[i] / per)), Number(r.changes)));
        }
      }
    });
  },
});
