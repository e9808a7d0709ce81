#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// vfsstat: count some VFS calls per second (BCC's vfsstat). The VFS functions have no tracepoints,
// so each counter is a fentry program with a kprobe alternative: bpfkit loads whichever this kernel
// supports. Where it has neither, the syscall tracepoints that lead to those functions stand in (the
// tool's substitute): they miss the VFS calls the kernel makes on its own (io_uring, nfsd, exec,
// splice), count opens that fail before reaching vfs_open, and count every open with O_CREAT as a
// create, as vfs_create is reached only for a file that did not exist.
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

/* The substitute: the syscalls that reach vfs_read/vfs_write/vfs_fsync_range/vfs_open/vfs_create. */
#define VFSSTAT_O_CREAT 0100

static __always_inline int opened(u64 flags)
{
	if (flags & VFSSTAT_O_CREAT)
		count(S_CREATE);
	return count(S_OPEN);
}

TRACEPOINT_PROBE(syscalls, sys_enter_read) { return count(S_READ); }
TRACEPOINT_PROBE(syscalls, sys_enter_readv) { return count(S_READ); }
TRACEPOINT_PROBE(syscalls, sys_enter_pread64) { return count(S_READ); }
TRACEPOINT_PROBE(syscalls, sys_enter_write) { return count(S_WRITE); }
TRACEPOINT_PROBE(syscalls, sys_enter_writev) { return count(S_WRITE); }
TRACEPOINT_PROBE(syscalls, sys_enter_pwrite64) { return count(S_WRITE); }
TRACEPOINT_PROBE(syscalls, sys_enter_fsync) { return count(S_FSYNC); }
TRACEPOINT_PROBE(syscalls, sys_enter_fdatasync) { return count(S_FSYNC); }
TRACEPOINT_PROBE(syscalls, sys_enter_open) { return opened(args->flags); }
TRACEPOINT_PROBE(syscalls, sys_enter_openat) { return opened(args->flags); }
TRACEPOINT_PROBE(syscalls, sys_enter_openat2)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)args->how);
	return opened(how.flags);
}
TRACEPOINT_PROBE(syscalls, sys_enter_creat) { return opened(VFSSTAT_O_CREAT); }
`;

const syscalls = ['read', 'readv', 'pread64', 'write', 'writev', 'pwrite64', 'fsync', 'fdatasync', 'open', 'openat', 'openat2', 'creat'];

const columns = ['READ', 'WRITE', 'FSYNC', 'OPEN', 'CREATE'];

interface Options { interval?: string; count?: string }

defineTool<Options>({
  name: 'vfsstat',
  subsystem: 'fs',
  description: 'Count some VFS calls per second (fentry, kprobes, or else at the syscalls)',
  ports: { bcc: 'tools/vfsstat.py', 'libbpf-tools': 'libbpf-tools/vfsstat.bpf.c', bpftrace: 'tools/vfsstat.bt', book: 'chapter 8, File Systems' },
  probes: {
    fentry: ['vfs_read', 'vfs_write', 'vfs_fsync_range', 'vfs_open', 'vfs_create'],
    kprobe: ['vfs_read', 'vfs_write', 'vfs_fsync_range', 'vfs_open', 'vfs_create'],
    tracepoint: syscalls.map(s => `syscalls/sys_enter_${s}`),
  },
  substitutes: [{
    programs: ['tracepoint__syscalls__*'],
    says: 'counted at syscalls',
    differs: 'syscalls only: misses the VFS calls the kernel makes itself (io_uring, nfsd, exec, splice); ' +
      'counts failed opens, and every open with O_CREAT as a create',
  }],
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: columns.map(c => c.toLowerCase()) }),
  program,
  options: {},
  positional: '[interval] [count]',
  examples: [
    ['vfsstat', 'print summary once per second'],
    ['vfsstat 5 3', 'print 3 summaries, 5 seconds apart'],
    ['vfsstat --json', 'one JSON object per interval'],
  ],

  async run({ opts, load, out, json, emit, intervals }) {
    let { interval, count } = intervalCount(opts);
    if (opts.interval === undefined) interval = 1;
    // open and creat are x86-64 only (arm64 has openat alone)
    const bpf = load({ optional: ['tracepoint__syscalls__sys_enter_open', 'tracepoint__syscalls__sys_enter_creat'] });
    bpf.attachAll();
    const stats = bpf.map<number, bigint[]>('stats');
    if (!json) out.line(sprintf('%-8s  ', 'TIME') + columns.map(c => sprintf(' %8s', `${c}/s`)).join(''));
    await intervals(interval, count, (_last, seconds) => {
      const counts = columns.map((_, i) => (stats.get(i + 1) ?? []).reduce((a, b) => a + Number(b), 0));
      stats.clear();
      // JSON has the interval's counts (and its length); the text, as BCC, counts per second
      if (json) emit.counts(seconds, [Object.fromEntries(columns.map((c, i) => [c.toLowerCase(), counts[i]]))]);
      else out.line(sprintf('%-8s: ', strftimeHMS()) + counts.map(v => sprintf(' %8d', Math.floor(v / interval))).join(''));
    });
  },
});
