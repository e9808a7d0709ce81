#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// numamove: NUMA page migrations per second and the time spent in them: libbpf-tools' numamove and the
// book's numamove.bt, which put a kprobe (fentry) on migrate_misplaced_folio(). This kernel has neither:
// the migrate:mm_migrate_pages_start and mm_migrate_pages tracepoints bracket the same migrate_pages()
// call, whose reason tells NUMA balancing's (MR_NUMA_MISPLACED) from the others. Counted are the calls
// (libbpf-tools' migrations) and their time; --json adds the pages moved and not moved.
import fs from 'node:fs';
import { defineTool, intervalCount } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

enum { MIGRATIONS, MIGRATION_NS, PAGES_MOVED, PAGES_FAILED, NUMAMOVE_NR_STATS };

BPF_ARRAY(stats, u64, NUMAMOVE_NR_STATS);
BPF_HASH(start, u32, u64, 10240);

static __always_inline bool numa_misplaced(int reason)
{
	return reason == bpf_core_enum_value(enum migrate_reason, MR_NUMA_MISPLACED);
}

static __always_inline void add(u32 stat, u64 n)
{
	u64 *v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline int begin(int reason)
{
	if (!numa_misplaced(reason))
		return 0;
	u32 tid = bpfkit_tid();
	u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

static __always_inline int end(int reason, unsigned long succeeded, unsigned long failed)
{
	if (!numa_misplaced(reason))
		return 0;
	u32 tid = bpfkit_tid();
	u64 *ts = bpf_map_lookup_elem(&start, &tid);
	if (!ts)
		return 0;
	add(MIGRATIONS, 1);
	add(MIGRATION_NS, bpf_ktime_get_ns() - *ts);
	add(PAGES_MOVED, succeeded);
	add(PAGES_FAILED, failed);
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

BTF_TRACEPOINT_PROBE(mm_migrate_pages_start, migrate_begin, begin(reason), enum migrate_mode mode, int reason)
BTF_TRACEPOINT_PROBE(mm_migrate_pages, migrate_end, end(reason, succeeded, failed), unsigned long succeeded, unsigned long failed,
	unsigned long thp_succeeded, unsigned long thp_failed, unsigned long thp_split, unsigned long large_folio_split, enum migrate_mode mode, int reason)
`;

interface Options { interval?: string; count?: string }

/** The NUMA nodes this machine has online (/sys/devices/system/node/online: "0", "0-1"). */
function onlineNodes(): number {
  try {
    return fs.readFileSync('/sys/devices/system/node/online', 'utf8').trim().split(',')
      .reduce((n, part) => { const [a, b] = part.split('-').map(Number); return n + (b === undefined ? 1 : b - a + 1); }, 0);
  } catch {
    return 1;
  }
}

defineTool<Options>({
  name: 'numamove',
  subsystem: 'mem',
  description: 'NUMA page migrations (NUMA balancing) per interval, and their time',
  ports: { 'libbpf-tools': 'libbpf-tools/numamove.bpf.c', book: 'chapter 7, Memory (numamove.bt)' },
  probes: { tp_btf: ['mm_migrate_pages_start', 'mm_migrate_pages'], raw_tp: ['mm_migrate_pages_start', 'mm_migrate_pages'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['migrations', 'migration_ms', 'pages_moved', 'pages_failed'] }),
  program,
  options: {},
  positional: '[interval] [count]',
  examples: [
    ['numamove', 'NUMA migrations every second until Ctrl-C'],
    ['numamove 5 3', 'three 5-second summaries'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval: given, count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : given;
    if (onlineNodes() < 2) process.stderr.write('numamove: this machine has one NUMA node: NUMA balancing moves no pages here, every count is 0\n');
    const bpf = load();
    bpf.attachAll();
    const stats = bpf.map<number, bigint>('stats');
    banner('Tracing NUMA page migrations... Hit Ctrl-C to end.');
    if (!json) {
      out.line(sprintf('%-10s %18s %20s', 'TIME', 'NUMA_migrations', 'NUMA_migrations_ms'));
      out.flush();
    }
    await intervals(interval, count, (_last, seconds) => {
      const [migrations, ns, moved, failed] = stats.drain().map(([, n]) => Number(n));
      if (json) {
        emit.counts(seconds, [{ migrations, migration_ms: ns / 1e6, pages_moved: moved, pages_failed: failed }]);
        return;
      }
      out.line(sprintf('%-10s %18d %20d', strftimeHMS(), migrations, Math.floor(ns / 1e6)));
    });
  },
});
