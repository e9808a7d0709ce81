#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// biopattern: random vs sequential block I/O, per disk. Port of libbpf-tools' biopattern (its -T,
// -d DISK, interval and count, its header and columns) and of BCC's biopattern.py.
//
// Probe: block_rq_complete, as a BTF tracepoint (or raw tracepoint), given the `struct request *` and
// the bytes completed. A completion is sequential when it starts at the sector where the disk's
// previous completion ended, random otherwise; the disk's first completion of an interval only sets
// that sector (both references count it so: their counters are deleted at each print).
import { defineTool, diskRodata, intervalCount, opt } from '../../lib/cli/index.js';
import { diskName } from '../../lib/host/disks.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev() */

const volatile bool filter_dev = false;   /* -d DISK */
const volatile u32 targ_dev = 0;

struct counter {
	u64 last_sector; /* where the previous completion ended; 0: none yet */
	u64 bytes;
	u32 sequential;
	u32 random;
	u32 dev;         /* the disk's dev_t, read once when the counter is made */
};

/* Keyed by the request queue (one per disk), whose disk's dev_t is read only when its counter is
 * made: two memory reads per completion instead of the five that reaching disk->major takes. */
BPF_HASH(counters, u64, struct counter, 64);

static __always_inline int rq_complete(struct request *rq, unsigned int nr_bytes)
{
	u64 queue = (u64)BPF_CORE_READ(rq, q);
	u64 sector = BPF_CORE_READ(rq, __sector);
	u32 nr_sector = nr_bytes >> 9;
	struct counter *counter = bpf_map_lookup_elem(&counters, &queue);

	if (!counter) {
		struct counter init = { .dev = rq_dev(rq) };
		if (filter_dev && init.dev != targ_dev)
			return 0; /* so only the -d disk ever has a counter */
		bpf_map_update_elem(&counters, &queue, &init, BPF_NOEXIST);
		counter = bpf_map_lookup_elem(&counters, &queue);
		if (!counter)
			return 0;
	}
	if (counter->last_sector) {
		if (counter->last_sector == sector)
			__sync_fetch_and_add(&counter->sequential, 1);
		else
			__sync_fetch_and_add(&counter->random, 1);
		__sync_fetch_and_add(&counter->bytes, (u64)nr_sector * 512);
	}
	counter->last_sector = sector + nr_sector;
	return 0;
}

BTF_TRACEPOINT_PROBE(block_rq_complete, rq_complete, rq_complete(rq, nr_bytes), struct request *rq, int error, unsigned int nr_bytes)
`;

interface Options {
  disk?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

interface Counter { last_sector: bigint; bytes: bigint; sequential: number; random: number; dev: number }

defineTool<Options>({
  name: 'biopattern',
  subsystem: 'disk',
  description: 'Show block device I/O pattern: random vs sequential, per disk',
  ports: { bcc: 'tools/biopattern.py', 'libbpf-tools': 'libbpf-tools/biopattern.bpf.c', book: 'originals/Ch09_Disks/biopattern.bt' },
  probes: { tp_btf: ['block_rq_complete'], raw_tp: ['block_rq_complete'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['disk', 'random_percent', 'sequential_percent', 'count', 'random', 'sequential', 'kbytes'] }),
  program,
  options: {
    disk: opt.disk(),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['biopattern', 'show block I/O pattern'],
    ['biopattern 1 10', 'print 1 second summaries, 10 times'],
    ['biopattern -T 1', '1s summaries with timestamps'],
    ['biopattern -d vda', 'trace vda only'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { ...diskRodata(opts.disk) } });
    bpf.attachAll();
    const counters = bpf.map('counters');
    banner('Tracing block device I/O requested seeks... Hit Ctrl-C to end.');
    if (!json) {
      out.line((opts.timestamp ? sprintf('%-9s ', 'TIME') : '') + sprintf('%-7s %5s %5s %8s %10s', 'DISK', '%RND', '%SEQ', 'COUNT', 'KBYTES'));
      out.flush();
    }

    await intervals(interval, count, (_last, seconds) => {
      const rows = [...counters.drain()]
        .map(([, v]) => ({ disk: diskName((v as Counter).dev, 'Unknown'), c: v as Counter }))
        .filter(r => r.c.random + r.c.sequential > 0)
        .sort((a, b) => a.disk.localeCompare(b.disk))
        .map(({ disk, c }) => {
          const total = c.random + c.sequential;
          // libbpf-tools' integer divisions: each percentage truncated on its own
          return { disk, random_percent: Math.floor((c.random * 100) / total), sequential_percent: Math.floor((c.sequential * 100) / total),
            count: total, random: c.random, sequential: c.sequential, kbytes: BigInt(c.bytes) / 1024n };
        });
      if (json) {
        emit.counts(seconds, rows);
        return;
      }
      const ts = opts.timestamp ? sprintf('%-9s ', strftimeHMS()) : '';
      for (const r of rows) out.line(ts + sprintf('%-7s %5d %5d %8d %10d', r.disk, r.random_percent, r.sequential_percent, r.count, r.kbytes));
    });
  },
});
