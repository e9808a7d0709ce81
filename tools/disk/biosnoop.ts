#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// biosnoop: trace block device I/O, one line per request with its issuing process and latency.
// Port of BCC's biosnoop.
//
// Probes, as BTF tracepoints (tp_btf) or raw tracepoints where tp_btf is refused, each given the
// `struct request *` that keys the maps:
// - block_io_start (Linux 6.5+; block_rq_insert before that): the request is created from a bio, in
//   the context of the process that submitted it: its PID and comm, and the queued time (-Q) start.
//   Requests first seen later (the flush machinery's own request) are attributed at insert/issue.
// - block_rq_issue: sent to the device; the latency starts, sector and length are taken.
// - block_rq_complete: one event to the ring buffer.
import fs from 'node:fs';
import { tracepointExists } from '../../lib/attach/features.js';
import { defineTool, opt, UsageError } from '../../lib/cli/index.js';
import { diskName, reqIsWrite, reqRwbs, resolveDisk } from '../../lib/host/disks.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev(), struct request___lean */

const volatile bool targ_queued = false;  /* -Q */
const volatile bool targ_pattern = false; /* -P */
const volatile bool filter_dev = false;   /* -d DISK */
const volatile u32 targ_dev = 0;
const volatile bool filter_cg = false;    /* -c CGROUP */

struct who {
	u64 queued; /* when the request was first seen: created from a bio, else inserted, else issued */
	u32 pid;
	char comm[TASK_COMM_LEN];
};

struct stage {
	u64 issue;
	u64 sector;
	u32 len;
	u32 dev;
	u32 cmd_flags;
};

enum pattern { PATTERN_UNKNOWN, PATTERN_SEQUENTIAL, PATTERN_RANDOM };

struct event {
	u64 ts;     /* completion, ns (CLOCK_MONOTONIC) */
	u64 delta;  /* issue -> completion, ns */
	u64 qdelta; /* queued -> issue, ns */
	u64 sector;
	u32 len;
	u32 pid;
	u32 dev;
	u32 cmd_flags;
	u32 pattern;
	char comm[TASK_COMM_LEN];
};

BPF_HASH(whoby, struct request___lean *, struct who);
BPF_HASH(start, struct request___lean *, struct stage);
BPF_HASH(last_sector, u32, u64, 256);
BPF_RINGBUF_OUTPUT(events, 256);
/* Puts struct event in the object's BTF (only a pointer to it is used), for user space to decode. */
BPFKIT_EXPORT_TYPE(struct event);

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} cgroup SEC(".maps");

/* The submitting process: set when the request is created (BPF_ANY: a new life of the struct);
 * insert and issue only fill in what was not seen (BPF_NOEXIST). */
static __always_inline int remember_who(struct request___lean *rq, u64 flags)
{
	struct who who = {};

	if (filter_dev && rq_dev(rq) != targ_dev)
		return 0;
	if (filter_cg && !bpf_current_task_under_cgroup(&cgroup, 0))
		return 0;
	who.queued = bpf_ktime_get_ns();
	who.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&who.comm, sizeof(who.comm));
	bpf_map_update_elem(&whoby, &rq, &who, flags);
	return 0;
}

static __always_inline int rq_issue(struct request___lean *rq)
{
	struct stage stage = {};

	remember_who(rq, BPF_NOEXIST);
	if (filter_cg && !bpf_map_lookup_elem(&whoby, &rq))
		return 0; /* not from the cgroup (or filtered by disk) */
	stage.dev = rq_dev(rq);
	if (filter_dev && stage.dev != targ_dev)
		return 0;
	stage.issue = bpf_ktime_get_ns();
	stage.sector = BPF_CORE_READ(rq, __sector);
	if (stage.sector == (u64)-1)
		stage.sector = 0; /* no sector (flushes): 0, as the block tracepoints show it */
	stage.len = BPF_CORE_READ(rq, __data_len);
	stage.cmd_flags = BPF_CORE_READ(rq, cmd_flags);
	bpf_map_update_elem(&start, &rq, &stage, BPF_ANY);
	return 0;
}

static __always_inline int rq_complete(void *ctx, struct request___lean *rq)
{
	struct stage *stage = bpf_map_lookup_elem(&start, &rq);
	struct who *who;
	struct event *e;
	u64 now = bpf_ktime_get_ns();

	if (!stage)
		goto cleanup; /* issued before we started, or filtered out */
	e = ringbuf_reserve(events, struct event);
	if (!e)
		goto cleanup;
	e->ts = now;
	e->delta = now - stage->issue;
	e->sector = stage->sector;
	e->len = stage->len;
	e->dev = stage->dev;
	e->cmd_flags = stage->cmd_flags;
	e->qdelta = 0;
	who = bpf_map_lookup_elem(&whoby, &rq);
	if (who) {
		e->pid = who->pid;
		__builtin_memcpy(e->comm, who->comm, sizeof(e->comm));
		if (targ_queued && stage->issue > who->queued)
			e->qdelta = stage->issue - who->queued;
	} else {
		e->pid = 0;
		__builtin_memset(e->comm, 0, sizeof(e->comm));
		e->comm[0] = '?';
	}
	e->pattern = PATTERN_UNKNOWN;
	if (targ_pattern) {
		u32 dev = stage->dev;
		u64 *last = bpf_map_lookup_elem(&last_sector, &dev);
		if (last)
			e->pattern = *last == stage->sector ? PATTERN_SEQUENTIAL : PATTERN_RANDOM;
		u64 next = stage->sector + stage->len / 512;
		bpf_map_update_elem(&last_sector, &dev, &next, BPF_ANY);
	}
	ringbuf_submit(events, e);
cleanup:
	bpf_map_delete_elem(&start, &rq);
	bpf_map_delete_elem(&whoby, &rq);
	return 0;
}

/* One program per probe kind and event: the library keeps one of each pair (lib/bpf.ts rank()). */
BTF_TRACEPOINT_PROBE(block_io_start, io_start, remember_who(rq, BPF_ANY), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_insert, rq_insert, remember_who(rq, BPF_NOEXIST), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_complete, rq_complete, rq_complete(ctx, rq), struct request___lean *rq)
`;

interface Options {
  queue: boolean;
  disk?: string;
  pattern: boolean;
  cgroup?: string;
  duration?: string;
}

interface IoEvent {
  ts: bigint;
  delta: bigint;
  qdelta: bigint;
  sector: bigint;
  len: number;
  pid: number;
  dev: number;
  cmd_flags: number;
  pattern: number;
  comm: string;
}

const PATTERNS = ['?', 'S', 'R'];

defineTool<Options>({
  name: 'biosnoop',
  subsystem: 'disk',
  description: 'Trace block I/O',
  ports: { bcc: 'tools/biosnoop.py', 'libbpf-tools': 'libbpf-tools/biosnoop.bpf.c', bpftrace: 'tools/biosnoop.bt', book: 'chapter 9, Disk I/O' },
  probes: {
    tp_btf: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_rq_complete'],
    raw_tp: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_rq_complete'],
  },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: o => ({ fields: ['ts_ns', 'comm', 'pid', 'disk', 'rw', 'rwbs', 'sector', 'bytes', ...(o.pattern ? ['pattern'] : []), ...(o.queue ? ['queue_ms'] : []), 'latency_ms'] }),
  program,
  options: {
    queue: opt.flag('Q', 'include OS queued time'),
    disk: opt.disk(),
    pattern: opt.flag('P', 'display block I/O pattern (sequential or random)'),
    cgroup: opt.cgroup('trace I/O issued by processes in this cgroup (a cgroup v2 directory)'),
  },
  positional: '[duration]',
  examples: [
    ['biosnoop', 'trace all block I/O'],
    ['biosnoop -Q', 'include OS queued time'],
    ['biosnoop 10', 'trace for 10 seconds only'],
    ['biosnoop -d vda', 'trace vda only'],
    ['biosnoop -P', 'display block I/O pattern'],
    ['biosnoop -c /sys/fs/cgroup/system.slice', 'trace I/O from processes in that cgroup'],
    ['biosnoop --json', 'one JSON object per I/O'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    let dev: number | undefined;
    if (opts.disk !== undefined) {
      const r = resolveDisk(opts.disk);
      if ('error' in r) throw new UsageError(r.error);
      dev = r.dev;
    }
    const cgroupFd = opts.cgroup === undefined ? undefined : fs.openSync(opts.cgroup, 'r');
    const hasIoStart = tracepointExists('block', 'block_io_start');
    const bpf = load({
      rodata: {
        targ_queued: opts.queue, targ_pattern: opts.pattern, filter_dev: dev !== undefined, targ_dev: dev ?? 0,
        filter_cg: cgroupFd !== undefined,
      },
      // Who submitted a request: block_io_start where it exists, else block_rq_insert.
      disable: hasIoStart ? ['rq_insert_btf', 'rq_insert_raw'] : ['io_start_btf', 'io_start_raw'],
      maxEntries: opts.pattern ? {} : { last_sector: 1 },
    });
    if (cgroupFd !== undefined) {
      bpf.map('cgroup').set(0, cgroupFd);
      fs.closeSync(cgroupFd);
    }
    bpf.attachAll();

    if (!json) {
      let hdr = sprintf('%-11s %-14s %-7s %-9s %-1s %-10s %-7s', 'TIME(s)', 'COMM', 'PID', 'DISK', 'T', 'SECTOR', 'BYTES');
      if (opts.pattern) hdr += sprintf('%-1s ', 'P');
      if (opts.queue) hdr += sprintf('%7s ', 'QUE(ms)');
      out.line(hdr + sprintf('%7s', 'LAT(ms)'));
      out.flush();
    } else {
      banner('Tracing block I/O... Hit Ctrl-C to end.'); // to stderr: stdout is only JSON
    }

    // BCC: TIME(s) counts from the first I/O seen, at microsecond resolution.
    let startUs: bigint | undefined;
    bpf.events<IoEvent>('events', 'event', e => {
      const tsUs = BigInt(e.ts) / 1000n;
      startUs ??= tsUs;
      const time = Number(tsUs - startUs) / 1e6;
      const disk = diskName(e.dev, '<unknown>');
      const t = reqIsWrite(e.cmd_flags) ? 'W' : 'R';
      const latMs = Number(e.delta) / 1e6;
      const queMs = Number(e.qdelta) / 1e6;
      if (json) {
        emit.event({
          comm: e.comm, pid: e.pid, disk, rw: t, rwbs: reqRwbs(e.cmd_flags), sector: e.sector, bytes: e.len,
          ...(opts.pattern ? { pattern: PATTERNS[e.pattern] ?? '?' } : {}),
          ...(opts.queue ? { queue_ms: queMs } : {}),
          latency_ms: latMs,
        }, { tsNs: e.ts });
        return;
      }
      let s = sprintf('%-11.6f %-14.14s %-7s %-9s %-1s %-10s %-7s', time, e.comm, e.pid, disk, t, e.sector, e.len);
      if (opts.pattern) s += sprintf('%-1s ', PATTERNS[e.pattern] ?? '?');
      if (opts.queue) s += sprintf('%7.2f ', queMs);
      out.line(s + sprintf('%7.2f', latMs));
    });

    await untilExit(opts.duration === undefined ? undefined : Number(opts.duration));
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`biosnoop: lost ${lost} events\n`);
  },
});
