#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// iosched: time block requests spend queued in the I/O scheduler, as a log2 histogram of usecs per
// scheduler name (mq-deadline, bfq, kyber). Port of the BPF Performance Tools book's iosched.bt, in
// BCC's histogram format (the kit's one format), with -d DISK, -T and [interval] [count].
//
// Probes: the book times __elv_add_request -> blk_mq_start_request with kprobes; here the block
// layer's tracepoints at those two moments, block_rq_insert -> block_rq_issue, as BTF tracepoints
// (or raw tracepoints), given the `struct request *`. The scheduler is the request queue's
// elevator->type->elevator_name; a request inserted on a queue with none (the dispatch list) is
// counted under "none". Requests issued without being inserted (no scheduler, issued directly)
// spend no time queued and are not counted, as in the book's tool.
import { defineTool, diskRodata, intervalCount, opt } from '../../lib/cli/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev(), struct request___lean */

const volatile bool filter_dev = false; /* -d DISK */
const volatile u32 targ_dev = 0;

#define ELV_NAME_MAX 16

/* elevator_name is a pointer since Linux 6.x, an array of ELV_NAME_MAX before: CO-RE tells which. */
struct elevator_type___ptr { const char *elevator_name; } __attribute__((preserve_access_index));
struct elevator_type___arr { char elevator_name[ELV_NAME_MAX]; } __attribute__((preserve_access_index));
struct elevator_queue___lean { struct elevator_type___ptr *type; } __attribute__((preserve_access_index));
struct request_queue___elv { struct elevator_queue___lean *elevator; } __attribute__((preserve_access_index));
struct request___elv { struct request_queue___elv *q; } __attribute__((preserve_access_index));

struct sched_key {
	char name[ELV_NAME_MAX];
	u64 slot;
};

BPF_HASH(start, struct request___lean *, u64);
BPF_HISTOGRAM(dist, struct sched_key);

static __always_inline void elevator_name(struct request___elv *rq, char *name)
{
	struct elevator_type___ptr *type = BPF_CORE_READ(rq, q, elevator, type);
	if (!type) {
		__builtin_memcpy(name, "none", 5);
		return;
	}
	if (bpf_core_field_exists(((struct elevator_type___arr *)type)->elevator_name))
		bpf_probe_read_kernel_str(name, ELV_NAME_MAX, ((struct elevator_type___arr *)type)->elevator_name);
	else
		bpf_probe_read_kernel_str(name, ELV_NAME_MAX, BPF_CORE_READ(type, elevator_name));
}

static __always_inline int rq_insert(struct request___lean *rq)
{
	if (filter_dev && rq_dev(rq) != targ_dev)
		return 0;
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
	return 0;
}

static __always_inline int rq_issue(struct request___lean *rq)
{
	u64 *tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0; /* not inserted (issued directly), inserted before we started, or filtered out */
	s64 delta = (s64)(bpf_ktime_get_ns() - *tsp);
	bpf_map_delete_elem(&start, &rq);
	if (delta < 0)
		return 0;
	struct sched_key key = {};
	elevator_name((struct request___elv *)rq, key.name);
	key.slot = bpf_log2l((u64)delta / 1000);
	map_increment(dist, key);
	return 0;
}

BTF_TRACEPOINT_PROBE(block_rq_insert, rq_insert, rq_insert(rq), struct request___lean *rq)
BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request___lean *rq)
`;

interface Options {
  disk?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'iosched',
  subsystem: 'disk',
  description: 'Summarize time queued in the I/O scheduler as a histogram per scheduler',
  ports: { book: 'originals/Ch09_Disks/iosched.bt' },
  probes: { tp_btf: ['block_rq_insert', 'block_rq_issue'], raw_tp: ['block_rq_insert', 'block_rq_issue'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'scheduler' }),
  program,
  options: {
    disk: opt.disk(),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['iosched', 'summarize I/O scheduler queueing time per scheduler'],
    ['iosched 1 10', 'print 1 second summaries, 10 times'],
    ['iosched -d vda', 'trace vda only'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: diskRodata(opts.disk) });
    bpf.attachAll();
    const dist = bpf.histogram('dist');
    banner('Tracing block I/O schedulers. Hit Ctrl-C to end.');
    await intervals(interval, count, () => dist.printInterval({ out, emit, json }, 'usecs', { sectionHeader: 'scheduler' }, { timestamp: opts.timestamp }));
  },
});
