#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// biolatpcts: latency percentiles of one block device's reads, writes, discards and flushes, every
// interval. Port of BCC's biolatpcts (Tejun Heo's): its DEV, -i, -w, -p, -j, and SIGUSR1/SIGUSR2.
//
// Probes: block_rq_complete (and block_rq_issue for -w on-device), as BTF tracepoints or raw
// tracepoints. Latencies are counted in three linear tiers of 100 slots, as BCC's: 100 ms, 1 ms and
// 10 us wide, each finer tier splitting the coarser one's first slot; percentiles are read from them.
// Two choices differ from BCC's, for correctness:
// - on-device time starts at block_rq_issue, stamped here: BCC reads rq->io_start_time_ns, which
//   the kernel only fills while a block-stats user (wbt, iolatency) is on, else it counts nothing.
// - each percentile is the slot where the count from the top reaches it. BCC's walk moves at least
//   one slot per percentile, so on a narrow distribution (every I/O in one 1 ms slot) its lower
//   percentiles fall through to the finer tier and print 5us.
import { defineTool, UsageError, type ToolOption } from '../../lib/cli/index.js';
import { blockDeviceByDev, mkdev, resolveDisk } from '../../lib/host/disks.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev(), struct request___lean */

#define WHICH_ON_DEVICE 0
#define WHICH_AFTER_ALLOC 1
#define WHICH_FROM_ALLOC 2

const volatile u32 targ_dev = 0;
const volatile u32 targ_which = WHICH_ON_DEVICE;

/* The block layer's own stamps: start_time_ns when the request was set up (after allocation),
 * alloc_time_ns before (filled only where CONFIG_BLK_RQ_ALLOC_TIME and blk-iocost ask for it). */
struct request___stamps {
	u64 start_time_ns;
	u64 alloc_time_ns;
} __attribute__((preserve_access_index));

/* Counts by [tier][op][slot]: tier 0 is 100 ms slots, 1 is 1 ms, 2 is 10 us; op read, write,
 * discard, flush; each tier's slot 99 holds everything above. */
#define SLOTS 100
#define OPS 4
BPF_PERCPU_ARRAY(lat, u64, 3 * OPS * SLOTS);
BPF_HASH(issued, struct request___lean *, u64);

static __always_inline void count_slot(u32 tier, u32 op, u64 slot)
{
	u32 idx = (tier * OPS + op) * SLOTS + (slot > SLOTS - 1 ? SLOTS - 1 : slot);
	u64 *c = bpf_map_lookup_elem(&lat, &idx);
	if (c)
		(*c)++;
}

static __always_inline int rq_issue(struct request___lean *rq)
{
	if (targ_which != WHICH_ON_DEVICE || rq_dev(rq) != targ_dev)
		return 0;
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&issued, &rq, &ts, BPF_ANY);
	return 0;
}

static __always_inline int rq_complete(struct request___lean *rq)
{
	u64 start = 0;
	if (targ_which == WHICH_ON_DEVICE) {
		u64 *tsp = bpf_map_lookup_elem(&issued, &rq);
		if (!tsp)
			return 0; /* issued before we started, or another disk */
		start = *tsp;
		bpf_map_delete_elem(&issued, &rq);
	} else {
		if (rq_dev(rq) != targ_dev)
			return 0;
		struct request___stamps *st = (void *)rq;
		if (targ_which == WHICH_FROM_ALLOC && bpf_core_field_exists(st->alloc_time_ns))
			start = BPF_CORE_READ(st, alloc_time_ns);
		else if (targ_which == WHICH_AFTER_ALLOC)
			start = BPF_CORE_READ(st, start_time_ns);
		if (!start)
			return 0; /* not stamped for this queue */
	}
	u32 op;
	switch (BPF_CORE_READ(rq, cmd_flags) & 0xff) { /* REQ_OP_MASK */
	case 0: op = 0; break; /* REQ_OP_READ */
	case 1: op = 1; break; /* REQ_OP_WRITE */
	case 3: op = 2; break; /* REQ_OP_DISCARD */
	case 2: op = 3; break; /* REQ_OP_FLUSH */
	default: return 0;
	}
	s64 dur = (s64)(bpf_ktime_get_ns() - start);
	if (dur < 0)
		return 0;
	u64 slot = (u64)dur / 100000000;
	count_slot(0, op, slot);
	if (slot)
		return 0;
	slot = (u64)dur / 1000000;
	count_slot(1, op, slot);
	if (slot)
		return 0;
	count_slot(2, op, (u64)dur / 10000);
	return 0;
}

BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_complete, rq_complete, rq_complete(rq), struct request___lean *rq)
`;

const SLOTS = 100;
const OPS = ['read', 'write', 'discard', 'flush'] as const;
/** Each tier's slot width in microseconds, coarsest first (the order of the map's tiers). */
const TIER_US = [100_000, 1000, 10];
const WHICH = ['on-device', 'after-rq-alloc', 'from-rq-alloc'] as const;
const MSEC = 1000;
const SEC = 1000 * 1000;

/** One operation's slots, a tier each (coarsest first): the interval's counts. */
type Tiers = number[][];

/**
 * The latency (us) at each percentile: the middle of the slot where the count from the top first
 * reaches (100 - pct) % of the total; 0 when nothing was counted. Slots are walked from the slowest
 * (the 100 ms tier) down; a tier's slot 0 is the next finer tier.
 */
export function latencyPercentiles(tiers: Tiers, pcts: number[]): number[] {
  const total = tiers[0].reduce((a, b) => a + b, 0);
  if (total === 0) return pcts.map(() => 0);
  // every slot, slowest first, with its middle in us
  const slots: { us: number; count: number }[] = [];
  tiers.forEach((counts, t) => {
    const last = t === tiers.length - 1;
    for (let i = SLOTS - 1; i >= (last ? 0 : 1); i--) slots.push({ us: TIER_US[t] * i + TIER_US[t] / 2, count: counts[i] });
  });
  return pcts.map(pct => {
    let counted = 0;
    for (const s of slots) {
      if (!s.count) continue;
      counted += s.count;
      if ((counted / total) * 100 >= 100 - pct) return s.us;
    }
    return slots[slots.length - 1].us;
  });
}

/** BCC's format_usec. */
export function formatUsec(us: number): string {
  if (us > SEC) return sprintf('%.1fs', us / SEC);
  if (us > 10 * MSEC) return sprintf('%.0fms', us / MSEC);
  if (us > MSEC) return sprintf('%.1fms', us / MSEC);
  if (us > 0) return sprintf('%.0fus', us);
  return '-';
}

/** DEV as BCC takes it: /dev/NAME, NAME or MAJ:MIN; a whole disk that exists. */
function targetDisk(arg: string | undefined): { dev: number; name: string } {
  if (arg === undefined) throw new UsageError('the following arguments are required: DEV');
  const m = /^(\d+):(\d+)$/.exec(arg);
  if (m) {
    const dev = mkdev(+m[1], +m[2]);
    const d = blockDeviceByDev(dev);
    if (!d) throw new UsageError(`no block device ${arg}`);
    if (d.partition) throw new UsageError(`${arg} is a partition (${d.name}) of ${d.disk}: requests are counted per disk`);
    return { dev, name: d.name };
  }
  const name = arg.replace(/^\/dev\//, '');
  const r = resolveDisk(name);
  if ('error' in r) throw new UsageError(r.error);
  return { dev: r.dev, name };
}

/** The percentiles, as typed (BCC prints them so) and sorted by value. */
function percentileList(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const list = String(Array.isArray(v) ? v[v.length - 1] : v).split(',');
  for (const p of list) {
    if (!/^\d+(\.\d+)?$/.test(p) || Number(p) > 100) throw new UsageError(`invalid percentile: '${p}' (must be a number from 0 to 100)`);
  }
  return list.sort((a, b) => Number(a) - Number(b));
}

function reportInterval(v: unknown): number {
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  if (!/^(-1|\d+)$/.test(s)) throw new UsageError(`invalid interval: '${s}' (seconds, 0: exit after startup, -1: infinite)`);
  return Number(s);
}

interface Options {
  dev?: string;
  interval: number;
  which: (typeof WHICH)[number];
  pcts: string[];
  j: boolean;
  verbose: number;
}

defineTool<Options>({
  name: 'biolatpcts',
  subsystem: 'disk',
  description: 'Monitor IO latency distribution of a block device',
  ports: { bcc: 'tools/biolatpcts.py' },
  probes: { tp_btf: ['block_rq_issue', 'block_rq_complete'], raw_tp: ['block_rq_issue', 'block_rq_complete'] },
  output: 'counts',
  invocations: [{ args: ['-i', '1', 'vda'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['op', 'percentile', 'latency_us'] }),
  program,
  options: {
    interval: { alias: 'i', type: 'string', default: '3', describe: 'report interval (0: exit after startup, -1: infinite)', coerce: reportInterval } as ToolOption,
    which: { alias: 'w', type: 'string', choices: [...WHICH], default: 'on-device', describe: 'which latency to measure' },
    pcts: { alias: 'p', type: 'string', default: '1,5,10,16,25,50,75,84,90,95,99,100', describe: 'percentiles to calculate (PCT,...)', coerce: percentileList } as ToolOption,
    j: { type: 'boolean', default: false, describe: 'output in json (as --json; the format of docs/json.md)' },
    verbose: { alias: 'v', type: 'boolean', count: true, default: 0, describe: 'print the slots as well' },
  },
  positional: '[dev]', // required, but checked in run() (BCC's words), so that an unknown flag is named first
  validate(o) {
    if (!(WHICH as readonly string[]).includes(o.which)) return `invalid which: '${o.which}' (choose from ${WHICH.join(', ')})`;
    return undefined;
  },
  examples: [
    ['biolatpcts vda', 'percentiles of vda every 3 seconds'],
    ['biolatpcts -i 1 -p 50,90,99 /dev/vda', '1 second reports of p50, p90 and p99'],
    ['biolatpcts -w after-rq-alloc 254:0', 'latency from request setup, disk by MAJ:MIN'],
    ['biolatpcts -i -1 vda', 'report on SIGUSR1 (and start a new period) or SIGUSR2, and at exit'],
    ['biolatpcts -j vda', 'one JSON record per report'],
  ],

  async run({ opts, load, out, json, emit, untilExit, intervals }) {
    const asJson = json || opts.j;
    const disk = targetDisk(opts.dev);
    const which = WHICH.indexOf(opts.which);
    // the kernel fills alloc_time_ns only for queues that ask for it (blk-iocost on): say why a report may be empty
    if (opts.which === 'from-rq-alloc') process.stderr.write('biolatpcts: from-rq-alloc counts the requests the kernel stamped at allocation (alloc_time_ns: queues with blk-iocost enabled)\n');
    const bpf = load({ rodata: { targ_dev: disk.dev, targ_which: which }, disable: which === 0 ? [] : ['rq_issue_btf', 'rq_issue_raw'] });
    bpf.attachAll();
    if (opts.interval === 0) return; // BCC: "0 interval can be used to test whether this script would run successfully"
    const lat = bpf.map('lat');
    const cells = 3 * OPS.length * SLOTS;
    let last = new Array<number>(cells).fill(0);

    const report = (startNewPeriod: boolean, seconds: number) => {
      const now = new Array<number>(cells).fill(0);
      for (const [i, perCpu] of lat.entries() as [number, (bigint | number)[]][]) {
        now[i] = perCpu.reduce((a: number, v) => a + Number(v), 0);
      }
      const delta = now.map((v, i) => Math.max(v - last[i], 0));
      if (startNewPeriod) last = now;
      const at = (tier: number, op: number) => delta.slice((tier * OPS.length + op) * SLOTS, (tier * OPS.length + op + 1) * SLOTS);
      const pcts = opts.pcts.map(Number);
      const byOp = OPS.map((_, op) => latencyPercentiles([0, 1, 2].map(t => at(t, op)), pcts));
      if (asJson) {
        // one row per operation and percentile (data is never a key): latency_us null where nothing completed
        const rows = OPS.flatMap((name, op) => opts.pcts.map((p, i) => ({ op: name, percentile: Number(p), latency_us: byOp[op][i] || null })));
        emit.counts(seconds, rows, { disk: disk.name });
        return;
      }
      if (opts.verbose) {
        OPS.forEach((name, op) => ['100ms', '  1ms', ' 10us'].forEach((tier, t) => out.line(sprintf('%-7s %s [%s]', name, tier, at(t, op).join(', ')))));
      }
      const widths = opts.pcts.map(p => Math.max(p.length, 5));
      out.line('');
      out.line(sprintf('%-7s', opts.dev!.replace(/.*\//, '')) + opts.pcts.map(p => sprintf(' %5s', p)).join(''));
      OPS.forEach((name, op) => out.line(sprintf('%-7s', name) + byOp[op].map((us, i) => ' ' + formatUsec(us).padStart(widths[i])).join('')));
    };

    if (opts.interval > 0) {
      await intervals(opts.interval, 99999999, (_last, seconds) => report(true, seconds));
      return;
    }
    // -i -1: report once now (readiness), then on SIGUSR1 (and start a new period) or SIGUSR2, and at exit
    let since = process.hrtime.bigint();
    const reportNow = (startNewPeriod: boolean) => {
      const t = process.hrtime.bigint();
      report(startNewPeriod, Math.max(1, Math.round(Number(t - since) / 1e6)) / 1000);
      if (startNewPeriod) since = t;
      out.flush();
    };
    reportNow(false);
    process.on('SIGUSR1', () => reportNow(true));
    process.on('SIGUSR2', () => reportNow(false));
    await untilExit();
    reportNow(false);
  },
});
