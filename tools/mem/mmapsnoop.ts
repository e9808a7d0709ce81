#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// mmapsnoop: mmap() calls, each with its protection, flags, size, result and the file it maps (bpftrace's
// and the book's mmap tracing, as a snoop tool in BCC's style). At the syscall tracepoints: the
// arguments at entry; at exit, the area the call made is looked up (bpf_find_vma) and its file's path
// read from its dentries, so the file is named even when the fd is closed at once (as ld.so does).
import { defineTool, opt } from '../../lib/cli/index.js';
import { bpfPath, type BpfPath } from '../../lib/host/paths.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_call.h>
#include <bpfkit_path.h>

const volatile u32 targ_tgid = 0;
const volatile bool targ_failed = false;

struct call { u64 len; u64 prot; u64 flags; s64 fd; u64 off; };

struct event {
	BPFKIT_CALL_EVENT_HEAD(struct call);
	struct bpfkit_path path;
};

BPFKIT_CALLS(struct call, struct event, 10240, 256);

TRACEPOINT_PROBE(syscalls, sys_enter_mmap)
{
	if (targ_tgid && bpfkit_tgid() != targ_tgid)
		return 0;
	struct call c = { .len = args->len, .prot = args->prot, .flags = args->flags, .fd = (int)args->fd, .off = args->off };
	return call_enter(&c);
}

TRACEPOINT_PROBE(syscalls, sys_exit_mmap)
{
	struct call *c = call_kept();
	if (!c)
		return 0;
	long ret = args->ret;
	bool mapped = (unsigned long)ret < (unsigned long)-4095L; /* succeeded: an address */
	struct event *e = targ_failed && mapped ? NULL : call_event(c, ret);
	if (e) {
		e->path.depth = 0;
		e->path.truncated = 0;
		if (mapped)
			bpfkit_mapped_path(ret, &e->path);
		ringbuf_submit(events, e);
	}
	call_forget();
	return 0;
}
`;

interface Options { timestamp: boolean; pid?: number; duration?: number; name?: string; failed: boolean }
interface Call { len: bigint; prot: bigint; flags: bigint; fd: bigint; off: bigint }
interface MmapEvent { ts: bigint; id: bigint; ret: bigint; call: Call; comm: string; path: BpfPath }

const MAP_FLAGS: [string, number][] = [
  ['SHARED', 0x01], ['PRIVATE', 0x02], ['FIXED', 0x10], ['ANONYMOUS', 0x20], ['GROWSDOWN', 0x100], ['DENYWRITE', 0x800],
  ['EXECUTABLE', 0x1000], ['LOCKED', 0x2000], ['NORESERVE', 0x4000], ['POPULATE', 0x8000], ['NONBLOCK', 0x10000],
  ['STACK', 0x20000], ['HUGETLB', 0x40000], ['SYNC', 0x80000], ['FIXED_NOREPLACE', 0x100000],
];

/** "RWX" with "-" for each protection bit not set (PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4). */
const protText = (p: number) => (p & 1 ? 'R' : '-') + (p & 2 ? 'W' : '-') + (p & 4 ? 'X' : '-');
const flagsText = (f: number) => MAP_FLAGS.filter(([, bit]) => f & bit).map(([n]) => n).join('|') || '0';
/** A result: the address (hex), or -errno. */
const isError = (ret: bigint) => ret < 0n && ret >= -4095n;

defineTool<Options>({
  name: 'mmapsnoop',
  subsystem: 'mem',
  description: 'Trace mmap() calls with their protection, flags, size and the file they map',
  ports: { bpftrace: 'tools/mmapsnoop (the book\'s mmapfiles.bt, per call)', book: 'chapter 7, Memory' },
  probes: { tracepoint: ['syscalls/sys_enter_mmap', 'syscalls/sys_exit_mmap'] },
  output: 'event',
  invocations: [{ args: ['-d', '3'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'tid', 'comm', 'prot', 'flags', 'bytes', 'fd', 'offset', 'address', 'error', 'file'] }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    pid: opt.pid(),
    duration: opt.duration(),
    name: opt.str('n', 'only print process names containing this name'),
    failed: opt.flag('x', 'only show failed mmap() calls'),
  },
  examples: [
    ['mmapsnoop', 'trace all mmap() calls'],
    ['mmapsnoop -T', 'include timestamps'],
    ['mmapsnoop -p 181', 'only trace PID 181'],
    ['mmapsnoop -x', 'only show failed calls'],
    ['mmapsnoop -n java', 'only print process names containing "java"'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_failed: opts.failed } });
    bpf.attachAll();
    if (json) {
      banner(`Tracing mmap()${opts.duration ? ` for ${opts.duration} secs` : ''}... Hit Ctrl-C to end.`);
    } else {
      out.line((opts.timestamp ? sprintf('%-14s', 'TIME(s)') : '') + sprintf('%-7s %-16s %-4s %-24s %8s %4s %16s %s', 'PID', 'COMM', 'PROT', 'FLAGS', 'KB', 'FD', 'RET', 'FILE'));
      out.flush();
    }
    let first: bigint | undefined;
    bpf.events<MmapEvent>('events', 'event', e => {
      first ??= e.ts;
      if (opts.name !== undefined && !e.comm.includes(opts.name)) return;
      const pid = Number(e.id >> 32n), tid = Number(e.id & 0xffffffffn);
      const file = e.path.depth ? bpfPath(e.path) : null;
      const c = e.call;
      if (json) {
        emit.event({
          pid, tid, comm: e.comm, prot: protText(Number(c.prot)), flags: flagsText(Number(c.flags)), bytes: c.len, fd: Number(c.fd), offset: c.off,
          ...(isError(e.ret) ? { address: null, error: Number(-e.ret) } : { address: `0x${BigInt.asUintN(64, e.ret).toString(16)}`, error: null }), file,
        }, { tsNs: e.ts });
        return;
      }
      const ret = isError(e.ret) ? String(e.ret) : BigInt.asUintN(64, e.ret).toString(16);
      const time = opts.timestamp ? sprintf('%-14.9f', Number(e.ts - first) / 1e9) : '';
      out.line(time + sprintf('%-7d %-16s %-4s %-24s %8d %4d %16s %s', pid, e.comm, protText(Number(c.prot)), flagsText(Number(c.flags)),
        Math.ceil(Number(c.len) / 1024), Number(c.fd), ret, file ?? (Number(c.flags) & 0x20 ? '[anon]' : isError(e.ret) ? '' : '[unnamed]')));
    });
    await untilExit(opts.duration);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`mmapsnoop: lost ${lost} events\n`);
  },
});
