#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// biolatency: summarize block device I/O latency as a histogram. Port of BCC's biolatency.
//
// Probes: block_rq_issue and block_rq_complete, and with -Q the moment the request was queued:
// block_io_start (Linux 6.5+, BCC's choice on tracepoint kernels: when a bio became a request) or
// block_rq_insert before that. They are taken as BTF tracepoints (tp_btf), or raw tracepoints where
// tp_btf is refused, so each handler gets the `struct request *` itself. Requests are keyed by that
// pointer, as libbpf-tools does, rather than by dev+sector as BCC does on its tracepoint path: the
// pointer is unique while the request lives, whereas two requests in flight at one sector (flushes
// carry sector 0) share a dev+sector key; and the request gives the exact cmd_flags that -F shows
// (BCC refuses -F on tracepoints for lack of them). Kernels before 5.11 passed (queue, request) to
// insert/issue; this tool expects 5.11+.
import { tracepointExists } from '../../lib/attach/features.js';
import { defineTool, intervalCount, opt, UsageError } from '../../lib/cli/index.js';
import { diskName, reqFlagsName, resolveDisk } from '../../lib/host/disks.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev(), struct request___lean */

const volatile bool targ_queued = false;   /* -Q: from insertion into the I/O scheduler */
const volatile bool targ_ms = false;       /* -m */
const volatile bool targ_per_disk = false; /* -D */
const volatile bool targ_per_flag = false; /* -F */
const volatile bool targ_ext = false;      /* -e */
const volatile bool filter_dev = false;    /* -d DISK */
const volatile u32 targ_dev = 0;

struct disk_key {
	u32 dev; /* MKDEV(major, first_minor) of the whole disk */
	u32 __pad;
	u64 slot;
};

struct flag_key {
	u64 flags; /* request cmd_flags: op in the low 8 bits, REQ_* flags above */
	u64 slot;
};

struct ext_val {
	u64 total;
	u64 count;
};

BPF_HASH(start, struct request___lean *, u64);
BPF_HISTOGRAM(dist);
BPF_HISTOGRAM(dist_disk, struct disk_key);
BPF_HISTOGRAM(dist_flags, struct flag_key);
BPF_ARRAY(extension, struct ext_val, 1);

static __always_inline int rq_start(struct request___lean *rq, bool issue)
{
	if (filter_dev && rq_dev(rq) != targ_dev)
		return 0;
	u64 ts = bpf_ktime_get_ns();
	/* With -Q a request keeps the time it was queued; one never seen queued (the flush
	 * machinery's own request) starts at issue. */
	bpf_map_update_elem(&start, &rq, &ts, issue && targ_queued ? BPF_NOEXIST : BPF_ANY);
	return 0;
}

static __always_inline int rq_done(struct request___lean *rq)
{
	u64 *tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0; /* issued before we started, or filtered out */
	s64 delta = (s64)(bpf_ktime_get_ns() - *tsp);
	bpf_map_delete_elem(&start, &rq);
	if (delta < 0)
		return 0;
	u64 lat = (u64)delta / (targ_ms ? 1000000 : 1000);
	u32 slot = bpf_log2l(lat);

	if (targ_per_disk) {
		struct disk_key key = { .dev = rq_dev(rq), .slot = slot };
		map_increment(dist_disk, key);
	} else if (targ_per_flag) {
		struct flag_key key = { .flags = BPF_CORE_READ(rq, cmd_flags), .slot = slot };
		map_increment(dist_flags, key);
	} else {
		map_increment(dist, slot);
	}
	if (targ_ext) {
		u32 zero = 0;
		struct ext_val *ext = bpf_map_lookup_elem(&extension, &zero);
		if (ext) {
			__sync_fetch_and_add(&ext->total, lat);
			__sync_fetch_and_add(&ext->count, 1);
		}
	}
	return 0;
}

/* One program per probe kind and event: the library keeps one of each pair (lib/bpf.ts rank()). */
BTF_TRACEPOINT_PROBE(block_io_start, io_start, rq_start(rq, false), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_insert, rq_insert, rq_start(rq, false), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_start(rq, true), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_complete, rq_complete, rq_done(rq), struct request___lean *rq)
`;

interface Options {
  timestamp: boolean;
  queued: boolean;
  milliseconds: boolean;
  disks: boolean;
  flags: boolean;
  extension: boolean;
  j: boolean;
  disk?: string;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'biolatency',
  subsystem: 'disk',
  description: 'Summarize block device I/O latency as a histogram',
  ports: { bcc: 'tools/biolatency.py', 'libbpf-tools': 'libbpf-tools/biolatency.bpf.c', bpftrace: 'tools/biolatency.bt', book: 'originals/Ch09_Disks/biolatency-tp.bt' },
  probes: {
    tp_btf: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_rq_complete'],
    raw_tp: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_rq_complete'],
  },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: o => ({ sectionBy: o.flags ? 'flags' : o.disks ? 'disk' : undefined }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    queued: opt.flag('Q', 'include OS queued time in I/O time'),
    milliseconds: opt.flag('m', 'millisecond histogram'),
    disks: opt.flag('D', 'print a histogram per disk device'),
    flags: opt.flag('F', 'print a histogram per set of I/O flags'),
    extension: opt.flag('e', 'summarize average/total value'),
    j: { type: 'boolean', default: false, describe: 'json output (as --json; the format of docs/json.md)' },
    disk: opt.disk(),
  },
  positional: '[interval] [count]',
  examples: [
    ['biolatency', 'summarize block I/O latency as a histogram'],
    ['biolatency 1 10', 'print 1 second summaries, 10 times'],
    ['biolatency -mT 1', '1s summaries, milliseconds, and timestamps'],
    ['biolatency -Q', 'include OS queued time in I/O time'],
    ['biolatency -D', 'show each disk device separately'],
    ['biolatency -F', 'show I/O flags separately'],
    ['biolatency -j', 'print one JSON record per interval'],
    ['biolatency -e', 'show extension summary (total, average)'],
    ['biolatency -d vda', 'trace vda only'],
  ],
  validate(o) {
    if (o.disks && o.flags) return 'ERROR: can only use -D or -F. Exiting.';
    return undefined;
  },

  async run({ opts, load, banner, out, json, emit, intervals }) {
    const asJson = json || opts.j;
    const { interval, count } = intervalCount(opts);
    let dev: number | undefined;
    if (opts.disk !== undefined) {
      const r = resolveDisk(opts.disk);
      if ('error' in r) throw new UsageError(r.error);
      dev = r.dev;
    }
    const hasIoStart = tracepointExists('block', 'block_io_start');
    const histMap = opts.disks ? 'dist_disk' : opts.flags ? 'dist_flags' : 'dist';
    const bpf = load({
      rodata: {
        targ_queued: opts.queued, targ_ms: opts.milliseconds, targ_per_disk: opts.disks, targ_per_flag: opts.flags,
        targ_ext: opts.extension, filter_dev: dev !== undefined, targ_dev: dev ?? 0,
      },
      // -Q's probe: block_io_start where it exists, else block_rq_insert. Unused histogram maps stay tiny.
      disable: [
        ...(opts.queued && !hasIoStart ? [] : ['rq_insert_btf', 'rq_insert_raw']),
        ...(opts.queued && hasIoStart ? [] : ['io_start_btf', 'io_start_raw']),
      ],
      maxEntries: Object.fromEntries(['dist_disk', 'dist_flags'].filter(m => m !== histMap).map(m => [m, 1])),
    });
    bpf.attachAll();
    const dist = bpf.histogram(histMap);
    const ext = bpf.map('extension');
    const label = opts.milliseconds ? 'msecs' : 'usecs';
    const section = opts.flags
      ? { sectionHeader: 'flags', sectionFormat: (f: bigint | number) => reqFlagsName(Number(f)) }
      : { sectionHeader: 'disk', sectionFormat: (d: number) => diskName(Number(d)) };

    if (asJson) process.stderr.write('Tracing block device I/O... Hit Ctrl-C to end.\n');
    else banner('Tracing block device I/O... Hit Ctrl-C to end.');

    await intervals(interval, count, () => {
      const data = dist.read(true);
      const e = opts.extension ? (ext.get(0) as { total: bigint; count: bigint }) : undefined;
      if (opts.extension) ext.clear();
      if (asJson) {
        // -e: BCC's "avg = ..., total: ..., count: ..." line, in the histogram's unit
        const summary = e ? { summary: { average: BigInt(e.count) > 0n ? Number(BigInt(e.total) / BigInt(e.count)) : 0, sum: e.total, count: e.count } } : {};
        emit.histogram(dist.json(label, section, data), summary);
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(sprintf('%-8s', strftimeHMS()));
      out.write(dist.format(label, section, data));
      if (e && BigInt(e.count) > 0n) {
        const [total, n] = [BigInt(e.total), BigInt(e.count)];
        // BCC: print("\navg = %ld %s, total: %ld %s, count: %ld\n" % (total / count, ...)): "%ld" truncates.
        out.line(sprintf('\navg = %d %s, total: %d %s, count: %d\n', total / n, label, total, label, n));
      }
    });
  },
});
