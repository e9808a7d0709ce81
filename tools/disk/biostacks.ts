#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// biostacks: block I/O latency as a histogram per kernel stack that created the request (and its
// process and disk). Port of libbpf-tools' biostacks (its -d DISK, -m, [duration] and layout) and of
// the book's biostacks.bt.
//
// Probes, as BTF tracepoints (or raw tracepoints), given the `struct request *`:
// - block_io_start (Linux 6.5+; block_rq_insert before that, block_rq_issue for a request first
//   seen there): the request is made from a bio, in the submitting process: its kernel stack
//   (BPF_STACK_TRACE), PID, comm and the start time. libbpf-tools takes the same tracepoint (or
//   fentry on blk_account_io_start, which this kernel cannot attach).
// - block_io_done (Linux 6.5+; block_rq_complete before that): the latency since the start goes
//   into the histogram of that stack.
import { tracepointExists } from '../../lib/attach/features.js';
import { defineTool, diskRodata, opt } from '../../lib/cli/index.js';
import { diskName } from '../../lib/host/disks.js';
import { formatLog2Hist, log2HistJson, sprintf } from '../../lib/output/index.js';
import { StackReader } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev() */

const volatile bool targ_ms = false;      /* -m */
const volatile bool filter_dev = false;   /* -d DISK */
const volatile u32 targ_dev = 0;

struct info {
	u32 pid;
	u32 dev;
	s32 kernel_stack_id;
	char comm[TASK_COMM_LEN];
};

struct start {
	u64 ts;
	struct info info;
};

struct hist_key {
	struct info info;
	u32 __pad;   /* a hash key has no unnamed padding: its bytes are compared */
	u64 slot;
};

BPF_HASH(starts, struct request *, struct start);
BPF_HISTOGRAM(dist, struct hist_key);
BPF_STACK_TRACE(stack_traces, 2048);

static __always_inline int rq_start(void *ctx, struct request *rq, u64 flags)
{
	struct start s = {};

	s.info.dev = rq_dev(rq);
	if (filter_dev && s.info.dev != targ_dev)
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.info.pid = bpfkit_tgid();
	s.info.kernel_stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	bpf_get_current_comm(&s.info.comm, sizeof(s.info.comm));
	bpf_map_update_elem(&starts, &rq, &s, flags);
	return 0;
}

static __always_inline int rq_done(struct request *rq)
{
	struct start *s = bpf_map_lookup_elem(&starts, &rq);
	if (!s)
		return 0;
	s64 delta = (s64)(bpf_ktime_get_ns() - s->ts);
	if (delta >= 0) {
		struct hist_key key = { .info = s->info };
		key.slot = bpf_log2l((u64)delta / (targ_ms ? 1000000 : 1000));
		map_increment(dist, key);
	}
	bpf_map_delete_elem(&starts, &rq);
	return 0;
}

/* Made from a bio (BPF_ANY: a new life of the struct); insert and issue only fill in what was not seen. */
BTF_TRACEPOINT_PROBE(block_io_start, io_start, rq_start(ctx, rq, BPF_ANY), struct request *rq)
BTF_TRACEPOINT_PROBE(block_rq_insert, rq_insert, rq_start(ctx, rq, BPF_NOEXIST), struct request *rq)
BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_start(ctx, rq, BPF_NOEXIST), struct request *rq)
BTF_TRACEPOINT_PROBE(block_io_done, io_done, rq_done(rq), struct request *rq)
BTF_TRACEPOINT_PROBE(block_rq_complete, rq_complete, rq_done(rq), struct request *rq)
`;

interface Options {
  disk?: string;
  milliseconds: boolean;
  duration?: number;
}

interface Info { pid: number; dev: number; kernel_stack_id: number; comm: string }

defineTool<Options>({
  name: 'biostacks',
  subsystem: 'disk',
  description: 'Block I/O latency as a histogram per request-creating kernel stack',
  ports: { 'libbpf-tools': 'libbpf-tools/biostacks.bpf.c', book: 'originals/Ch09_Disks/biostacks.bt' },
  probes: {
    tp_btf: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_io_done', 'block_rq_complete'],
    raw_tp: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_io_done', 'block_rq_complete'],
  },
  output: 'stacks',
  invocations: [{ args: ['2'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    disk: opt.disk(),
    milliseconds: opt.flag('m', 'millisecond histogram'),
  },
  positional: '[duration]',
  examples: [
    ['biostacks', 'trace block I/O with init stacks'],
    ['biostacks 1', 'trace for 1 seconds only'],
    ['biostacks -d vda', 'trace vda only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const hasIoStart = tracepointExists('block', 'block_io_start');
    const hasIoDone = tracepointExists('block', 'block_io_done');
    const bpf = load({
      rodata: { targ_ms: opts.milliseconds, ...diskRodata(opts.disk) },
      disable: [
        ...(hasIoStart ? ['rq_insert_btf', 'rq_insert_raw', 'rq_issue_btf', 'rq_issue_raw'] : ['io_start_btf', 'io_start_raw']),
        ...(hasIoDone ? ['rq_complete_btf', 'rq_complete_raw'] : ['io_done_btf', 'io_done_raw']),
      ],
    });
    bpf.attachAll();
    const started = process.hrtime.bigint();
    banner('Tracing block I/O with init stacks. Hit Ctrl-C to end.');
    await untilExit(opts.duration);

    const unit = opts.milliseconds ? 'msecs' : 'usecs';
    const reader = new StackReader(bpf, { user: false });
    const data = bpf.histogram('dist').read();
    // one section per (process, disk, stack): the most I/O first
    const sections = data.sections.map(s => ({ info: s.raw as Info, slots: s.slots, total: s.slots.reduce((a, b) => a + b, 0) }))
      .sort((a, b) => b.total - a.total);
    if (json) {
      const stacks = sections.map(s => ({
        pid: s.info.pid, comm: s.info.comm, disk: diskName(s.info.dev, 'Unknown'),
        kernel_stack: reader.frames('kernel', s.info.kernel_stack_id, s.info.pid) ?? null, count: s.total,
        val_type: unit, buckets: log2HistJson(s.slots, unit).buckets,
      }));
      emit.stacks(Math.max(1, Math.round(Number(process.hrtime.bigint() - started) / 1e6)) / 1000, 'count', stacks, { missed_stacks: reader.missed });
      return;
    }
    for (const s of sections) {
      out.line(sprintf('%-14.14s %-6d %-7s', s.info.comm, s.info.pid, diskName(s.info.dev, 'Unknown')));
      const frames = reader.frames('kernel', s.info.kernel_stack_id, s.info.pid);
      for (const f of frames ?? ['[Missed Kernel Stack]']) out.line(f);
      out.write(formatLog2Hist(s.slots, unit));
      out.line('');
    }
  },
});
