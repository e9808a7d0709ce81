#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// opensnoop: trace open() family syscalls (BCC's opensnoop) from the syscall tracepoints: the entry
// stashes the path pointer and flags per thread, the exit reads the path and reports the result.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

#define NAME_MAX 255

const volatile u32 targ_tgid = 0;
const volatile u32 targ_tid = 0;
const volatile u32 targ_uid = (u32)-1;
const volatile bool targ_failed = false;
const volatile u32 targ_flags = 0;          /* -f: any of these flag bits; O_RDONLY is checked in user space */

struct args_t { const char *fname; u32 flags; u32 mode; };
struct event {
	u64 ts;
	u32 pid;
	u32 tid;
	u32 uid;
	s32 ret;
	u32 flags;
	u32 mode;
	char comm[16];
	char fname[NAME_MAX + 1];
};

BPF_HASH(start, u32, struct args_t, 10240);
BPF_RINGBUF_OUTPUT(events, 256);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline int enter(const char *fname, u32 flags, u32 mode)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32, tid = (u32)id;
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (targ_tid && tid != targ_tid)
		return 0;
	if (targ_uid != (u32)-1 && (u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	if (targ_flags && !(flags & targ_flags))
		return 0;
	struct args_t a = { .fname = fname, .flags = flags, .mode = mode };
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int leave(void *ctx, long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct args_t *a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		goto cleanup;
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = a->flags;
	e->mode = a->mode;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname);
	ringbuf_submit(events, e);
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_open) { return enter((const char *)args->filename, args->flags, args->mode); }
TRACEPOINT_PROBE(syscalls, sys_enter_openat) { return enter((const char *)args->filename, args->flags, args->mode); }
TRACEPOINT_PROBE(syscalls, sys_enter_openat2)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)args->how);
	return enter((const char *)args->filename, how.flags, how.mode);
}
TRACEPOINT_PROBE(syscalls, sys_exit_open) { return leave(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_openat) { return leave(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_openat2) { return leave(ctx, args->ret); }
`;

/** open(2) flags by name, for -f (x86-64/arm64 values). */
const openFlags: Record<string, number> = {
  O_RDONLY: 0o0, O_WRONLY: 0o1, O_RDWR: 0o2, O_CREAT: 0o100, O_EXCL: 0o200, O_NOCTTY: 0o400, O_TRUNC: 0o1000,
  O_APPEND: 0o2000, O_NONBLOCK: 0o4000, O_DSYNC: 0o10000, O_ASYNC: 0o20000, O_DIRECT: 0o40000, O_LARGEFILE: 0o100000,
  O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000, O_NOATIME: 0o1000000, O_CLOEXEC: 0o2000000, O_SYNC: 0o4010000,
  O_PATH: 0o10000000, O_TMPFILE: 0o20200000,
};

interface Options {
  timestamp: boolean;
  printUid: boolean;
  failed: boolean;
  pid?: number;
  tid?: number;
  uid?: number;
  duration?: number;
  name?: string;
  extendedFields: boolean;
  flagFilter?: string | string[];
}

interface OpenEvent { ts: bigint; pid: number; tid: number; uid: number; ret: number; flags: number; mode: number; comm: string; fname: string }

defineTool<Options>({
  name: 'opensnoop',
  subsystem: 'fs',
  description: 'Trace open() syscalls',
  ports: { bcc: 'tools/opensnoop.py', 'libbpf-tools': 'libbpf-tools/opensnoop.bpf.c', bpftrace: 'tools/opensnoop.bt', book: 'chapter 8, File Systems' },
  probes: {
    tracepoint: ['syscalls/sys_enter_open', 'syscalls/sys_enter_openat', 'syscalls/sys_enter_openat2',
      'syscalls/sys_exit_open', 'syscalls/sys_exit_openat', 'syscalls/sys_exit_openat2'],
  },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'tid', 'uid', 'comm', 'fd', 'err', 'flags', 'mode', 'path'] }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    printUid: opt.flag('U', 'print UID column'),
    failed: opt.flag('x', 'only show failed opens'),
    pid: opt.pid(),
    tid: opt.tid(),
    uid: opt.uid(),
    duration: opt.duration(),
    name: opt.str('n', 'only print process names containing this name'),
    // BCC spells these two with underscores: --extended_fields, --flag_filter
    extendedFields: { ...opt.flag('e', 'show extended fields'), alias: ['e', 'extended_fields'] },
    flagFilter: { alias: ['f', 'flag_filter'], type: 'string', array: true, describe: 'filter on flags argument (e.g., O_WRONLY); repeatable' },
  },
  examples: [
    ['opensnoop', 'trace all open() syscalls'],
    ['opensnoop -T', 'include timestamps'],
    ['opensnoop -U', 'include UID'],
    ['opensnoop -x', 'only show failed opens'],
    ['opensnoop -p 181', 'only trace PID 181'],
    ['opensnoop -t 123', 'only trace TID 123'],
    ['opensnoop -u 1000', 'only trace UID 1000'],
    ['opensnoop -d 10', 'trace for 10 seconds only'],
    ['opensnoop -n main', 'only print process names containing "main"'],
    ['opensnoop -e', 'show extended fields'],
    ['opensnoop -f O_WRONLY -f O_RDWR', 'only print calls for writing'],
  ],
  validate(o) {
    for (const f of flagList(o.flagFilter)) if (!(f in openFlags)) return `unknown open flag: '${f}' (e.g. O_WRONLY, O_CREAT)`;
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const wanted = flagList(opts.flagFilter);
    const bits = wanted.reduce((a, f) => a | openFlags[f], 0);
    const rdonlyOnly = wanted.includes('O_RDONLY');
    const bpf = load({
      rodata: { targ_tgid: opts.pid ?? 0, targ_tid: opts.tid ?? 0, targ_uid: opts.uid ?? 0xffffffff, targ_failed: opts.failed,
        targ_flags: rdonlyOnly ? 0 : bits },
      optional: ['tracepoint__syscalls__sys_enter_open', 'tracepoint__syscalls__sys_exit_open',
        'tracepoint__syscalls__sys_enter_openat2', 'tracepoint__syscalls__sys_exit_openat2'],
    });
    bpf.attachAll();
    let first: bigint | undefined;
    if (!json) {
      out.line((opts.timestamp ? sprintf('%-14s', 'TIME(s)') : '') + (opts.printUid ? sprintf('%-6s', 'UID') : '') +
        sprintf('%-6s %-16s %4s %3s ', opts.tid ? 'TID' : 'PID', 'COMM', 'FD', 'ERR') + (opts.extendedFields ? sprintf('%-9s', 'FLAGS') : '') + 'PATH');
    }
    bpf.events<OpenEvent>('events', 'event', e => {
      if (opts.name && !e.comm.includes(opts.name)) return;
      if (rdonlyOnly && (e.flags & 3) !== 0 && !(e.flags & bits)) return; // O_RDONLY is the absence of write bits
      const fd = e.ret >= 0 ? e.ret : -1;
      const err = e.ret >= 0 ? 0 : -e.ret;
      first ??= e.ts;
      if (json) {
        emit.event({ pid: e.pid, tid: e.tid, uid: e.uid, comm: e.comm, fd, err, flags: e.flags, mode: e.mode, path: e.fname }, { tsNs: e.ts });
        return;
      }
      out.line((opts.timestamp ? sprintf('%-14.9f', Number(e.ts - first) / 1e9) : '') + (opts.printUid ? sprintf('%-6d', e.uid) : '') +
        sprintf('%-6d %-16s %4d %3d ', opts.tid ? e.tid : e.pid, e.comm, fd, err) +
        (opts.extendedFields ? sprintf('%08o ', e.flags) : '') + e.fname);
    });
    await untilExit(opts.duration);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`opensnoop: lost ${lost} events\n`);
  },
});

function flagList(f: string | string[] | undefined): string[] {
  return f === undefined ? [] : (Array.isArray(f) ? f : [f]).map(s => s.toUpperCase());
}
