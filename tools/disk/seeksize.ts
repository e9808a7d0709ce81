#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// seeksize: requested I/O seek distances, in sectors, as a log2 histogram per process name. Port of
// the BPF Performance Tools book's seeksize.bt, printed as BCC prints histograms (the kit's one
// format), with bitesize's -c/-d/-T and [interval] [count].
//
// Probe: block_rq_issue, as a BTF tracepoint (or raw tracepoint), given the `struct request *`. The
// distance is from where the disk's previous issued request ended to where this one starts, either
// way; a disk's first request only sets that position. Requests that move no data (flushes: no
// sector) are left out: they ask for no seek (the book's version counts them as a seek to sector 0).
import { defineTool, diskRodata, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev() */

const volatile char targ_comm[TASK_COMM_LEN] = {};  /* -c: a prefix of the comm; empty: all */
const volatile bool filter_dev = false;             /* -d DISK */
const volatile u32 targ_dev = 0;

struct proc_key {
	char comm[TASK_COMM_LEN];
	u64 slot;
};

struct position {
	u64 next_sector; /* where the previous request ended */
	u32 dev;         /* read once, when the disk is first seen */
};

/* By request queue (one per disk): the disk's dev_t is read once, not at every request. */
BPF_HASH(last, u64, struct position, 256);
BPF_HISTOGRAM(dist, struct proc_key);

static __always_inline int rq_issue(struct request *rq)
{
	u32 bytes = BPF_CORE_READ(rq, __data_len);
	if (!bytes)
		return 0; /* no data, no seek */
	u64 queue = (u64)BPF_CORE_READ(rq, q);
	u64 sector = BPF_CORE_READ(rq, __sector);
	u64 next = sector + (bytes >> 9);
	struct position *pos = bpf_map_lookup_elem(&last, &queue);

	if (!pos) {
		struct position first = { .next_sector = next, .dev = rq_dev(rq) };
		bpf_map_update_elem(&last, &queue, &first, BPF_NOEXIST);
		return 0;
	}
	u64 prev = pos->next_sector;
	pos->next_sector = next;
	if (filter_dev && pos->dev != targ_dev)
		return 0;
	struct proc_key key = {};
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (!bpfkit_comm_matches(targ_comm, key.comm))
		return 0;
	key.slot = bpf_log2l(sector > prev ? sector - prev : prev - sector);
	map_increment(dist, key);
	return 0;
}

BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request *rq)
`;

interface Options {
  comm?: string;
  disk?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'seeksize',
  subsystem: 'disk',
  description: 'Show requested block I/O seek distances as a histogram per process',
  ports: { book: 'originals/Ch09_Disks/seeksize.bt' },
  probes: { tp_btf: ['block_rq_issue'], raw_tp: ['block_rq_issue'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    comm: opt.comm('trace this comm only (a process name, or its beginning)'),
    disk: opt.disk(),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['seeksize', 'show requested seek distances per process'],
    ['seeksize 1 10', 'print 1 second summaries, 10 times'],
    ['seeksize -d vda', 'trace vda only'],
    ['seeksize -c postgres', 'trace processes named postgres... only'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_comm: opts.comm ?? '', ...diskRodata(opts.disk) } });
    bpf.attachAll();
    const dist = bpf.histogram('dist');
    banner('Tracing block I/O requested seeks... Hit Ctrl-C to end.');

    await intervals(interval, count, () => {
      const data = dist.read(true);
      if (json) {
        emit.histogram(dist.json('sectors', { sectionHeader: 'comm' }, data));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      out.write(dist.format('sectors', { sectionHeader: 'comm' }, data));
    });
  },
});
