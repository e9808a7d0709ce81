#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// vfsstat: count some VFS calls per second (BCC's vfsstat). The VFS functions have no tracepoints,
// so each counter is a fentry program with a kprobe alternative: bpfkit loads whichever this kernel
// supports, and says which feature is missing when neither is there.
import { defineTool, intervalCount } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

enum stat_types { S_READ = 1, S_WRITE, S_FSYNC, S_OPEN, S_CREATE, S_MAXSTAT };

BPF_PERCPU_ARRAY(stats, u64, S_MAXSTAT);

static __always_inline int count(u32 key)
{
	u64 *v = bpf_map_lookup_elem(&stats, &key);
	if (v)
		(*v)++;
	return 0;
}

SEC("fentry/vfs_read") int BPF_PROG(read_fentry) { return count(S_READ); }
SEC("kprobe/vfs_read") int BPF_KPROBE(read_kprobe) { return count(S_READ); }
SEC("fentry/vfs_write") int BPF_PROG(write_fentry) { return count(S_WRITE); }
SEC("kprobe/vfs_write") int BPF_KPROBE(write_kprobe) { return count(S_WRITE); }
SEC("fentry/vfs_fsync_range") int BPF_PROG(fsync_fentry) { return count(S_FSYNC); }
SEC("kprobe/vfs_fsync_range") int BPF_KPROBE(fsync_kprobe) { return count(S_FSYNC); }
SEC("fentry/vfs_open") int BPF_PROG(open_fentry) { return count(S_OPEN); }
SEC("kprobe/vfs_open") int BPF_KPROBE(open_kprobe) { return count(S_OPEN); }
SEC("fentry/vfs_create") int BPF_PROG(create_fentry) { return count(S_CREATE); }
SEC("kprobe/vfs_create") int BPF_KPROBE(create_kprobe) { return count(S_CREATE); }
`;

const columns = ['READ', 'WRITE', 'FSYNC', 'OPEN', 'CREATE'];

interface Options { interval?: string; count?: string }

defineTool<Options>({
  name: 'vfsstat',
  subsystem: 'fs',
  description: 'Count some VFS calls per second (fentry, or kprobes where fentry is missing)',
  program,
  options: {},
  positional: '[interval] [count]',
  examples: [
    ['vfsstat', 'print summary once per second'],
    ['vfsstat 5 3', 'print 3 summaries, 5 seconds apart'],
    ['vfsstat --json', 'one JSON object per interval'],
  ],
  validate(o) {
    intervalCount(o);
    return undefined;
  },

  async run({ opts, load, out, json, intervals }) {
    let { interval, count } = intervalCount(opts);
    if (opts.interval === undefined) interval = 1;
    const bpf = load();
    bpf.attachAll();
    const stats = bpf.map<number, bigint[]>('stats');
    if (!json) out.line(sprintf('%-8s  ', 'TIME') + columns.map(c => sprintf(' %8s', `${c}/s`)).join(''));
    await intervals(interval, count, () => {
      const perSecond = columns.map((_, i) => {
        const v = stats.get(i + 1) ?? [];
        return Math.floor(v.reduce((a, b) => a + Number(b), 0) / interval);
      });
      stats.clear();
      if (json) out.json({ time: new Date().toISOString(), ...Object.fromEntries(columns.map((c, i) => [c.toLowerCase(), perSecond[i]])) });
      else out.line(sprintf('%-8s: ', strftimeHMS()) + perSecond.map(v => sprintf(' %8d', v)).join(''));
    });
  },
});
