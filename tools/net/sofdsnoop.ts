#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// sofdsnoop: file descriptors passed over Unix sockets (SCM_RIGHTS), one line per descriptor, sent and
// received (BCC's sofdsnoop). BCC probes __scm_send and scm_detach_fds; without kprobes here the
// substitute is syscalls:sys_enter_sendmsg (the sender's fds, from the cmsgs in its msghdr) and
// sys_enter/exit_recvmsg (the receiver's new fds, from the cmsgs the kernel wrote back), read from user
// memory. Each descriptor's file is named in BPF from its dentries at the call (BCC reads
// /proc/PID/fd afterwards, for sends only: the receiver's are named here too). sendmmsg/recvmmsg are
// not traced.
import { defineTool, opt } from '../../lib/cli/index.js';
import { bpfPath, type BpfPath } from '../../lib/host/paths.js';
import { sprintf } from '../../lib/output/index.js';

const MAX_FD = 10;   /* per message, as BCC */

const program = `
#include <bpfkit_net.h>    /* current_fd_file() */
#include <bpfkit_path.h>

#define SOL_SOCKET 1
#define SCM_RIGHTS 1
#define MAX_CMSGS 4
#define MAX_FD ${MAX_FD}
#define ACTION_SEND 0
#define ACTION_RECV 1

const volatile u32 targ_tgid = 0;
const volatile u32 targ_tid = 0;

struct fd_event {
	u64 ts;
	u32 pid;
	u32 tid;
	u32 action;
	int sock_fd;
	u64 sock_ino;
	int fd;
	char comm[16];
	struct bpfkit_path path;
};
struct recv_call { int sock_fd; u64 msg; };
struct cmsg_head { u64 len; int level; int type; };   /* struct cmsghdr, 64-bit */

BPF_HASH(recv_calls, u32, struct recv_call, 10240);
BPF_RINGBUF_OUTPUT(events, 256);
BPFKIT_EXPORT_TYPE(struct fd_event);

static __always_inline bool traced(u64 id)
{
	return !(targ_tid && (u32)id != targ_tid) && !(targ_tgid && (id >> 32) != targ_tgid);
}

static __always_inline u64 fd_inode(int fd)
{
	struct file *file = (struct file *)current_fd_file(fd);
	return file ? BPF_CORE_READ(file, f_inode, i_ino) : 0;
}

/* One event per SCM_RIGHTS descriptor of the msghdr at \`msg\` (user memory): the sender's, before a
 * sendmsg(), or the receiver's, after a recvmsg(). */
static __always_inline void fds_of_message(void *ctx, u32 action, int sock_fd, u64 msg)
{
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)msg) || !m.msg_control)
		return;
	/* the first SCM_RIGHTS cmsg (senders put their fds in one; a second is rare and not read): one
	 * loop over fds, which keeps verifying the program quick */
	u64 at = 0;
	struct cmsg_head h = {};
	bool found = false;
	for (int c = 0; c < MAX_CMSGS && !found; c++) {
		if (at + sizeof(h) > m.msg_controllen || bpf_probe_read_user(&h, sizeof(h), m.msg_control + at) || h.len < sizeof(h))
			return;
		if (h.level == SOL_SOCKET && h.type == SCM_RIGHTS)
			found = true;
		else
			at += (h.len + 7) & ~7ULL;   /* CMSG_ALIGN */
	}
	if (!found)
		return;
	u64 sock_ino = fd_inode(sock_fd), id = bpf_get_current_pid_tgid();
	u32 n = (h.len - sizeof(h)) / sizeof(int);
	for (int i = 0; i < MAX_FD && i < n; i++) {
		int fd = -1;
		bpf_probe_read_user(&fd, sizeof(fd), m.msg_control + at + sizeof(h) + i * sizeof(int));
		struct fd_event *e = ringbuf_reserve(events, struct fd_event);
		if (!e)
			return;
		e->ts = bpf_ktime_get_ns();
		e->pid = id >> 32;
		e->tid = id;
		e->action = action;
		e->sock_fd = sock_fd;
		e->sock_ino = sock_ino;
		e->fd = fd;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		e->path.depth = 0;
		e->path.truncated = 0;
		struct file *file = (struct file *)current_fd_file(fd);
		if (file)
			bpfkit_file_path(file, &e->path);
		ringbuf_submit(events, e);
	}
}

TRACEPOINT_PROBE(syscalls, sys_enter_sendmsg)
{
	if (!traced(bpf_get_current_pid_tgid()))
		return 0;
	fds_of_message(ctx, ACTION_SEND, args->fd, (u64)args->msg);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_recvmsg)
{
	u64 id = bpf_get_current_pid_tgid();
	if (!traced(id))
		return 0;
	struct recv_call c = { .sock_fd = args->fd, .msg = (u64)args->msg };
	u32 tid = id;
	bpf_map_update_elem(&recv_calls, &tid, &c, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_recvmsg)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct recv_call *c = bpf_map_lookup_elem(&recv_calls, &tid);
	if (!c)
		return 0;
	struct recv_call call = *c;
	bpf_map_delete_elem(&recv_calls, &tid);
	if (args->ret >= 0)
		fds_of_message(ctx, ACTION_RECV, call.sock_fd, call.msg);
	return 0;
}
`;

interface Options { timestamp: boolean; pid?: number; tid?: number; name?: string; duration?: number }
interface FdEvent { ts: bigint; pid: number; tid: number; action: number; sock_fd: number; sock_ino: bigint; fd: number; comm: string; path: BpfPath }

defineTool<Options>({
  name: 'sofdsnoop',
  subsystem: 'net',
  description: 'Trace file descriptors passed via socket',
  ports: { bcc: 'tools/sofdsnoop.py' },
  probes: { tracepoint: ['syscalls/sys_enter_sendmsg', 'syscalls/sys_enter_recvmsg', 'syscalls/sys_exit_recvmsg'] },
  output: 'event',
  records: () => ({ fields: ['ts_ns', 'action', 'pid', 'tid', 'comm', 'sock_fd', 'socket', 'fd', 'name'] }),
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-T', '-d', '3'], ends: 'itself' }],
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    pid: opt.pid('trace this PID only'),
    tid: opt.tid('trace this TID only'),
    name: opt.str('n', 'only print process names containing this name (a regular expression)'),
    duration: opt.duration(),
  },
  examples: [
    ['sofdsnoop', 'trace passed file descriptors'],
    ['sofdsnoop -T', 'include timestamps'],
    ['sofdsnoop -p 181', 'only trace PID 181'],
    ['sofdsnoop -t 123', 'only trace TID 123'],
    ['sofdsnoop -d 10', 'trace for 10 seconds only'],
    ['sofdsnoop -n main', 'only print process names containing "main"'],
  ],
  validate(o) {
    if (o.name === undefined) return undefined;
    try {
      new RegExp(o.name);
    } catch {
      return `-n: not a regular expression: ${o.name}`;
    }
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_tid: opts.tid ?? 0 } });
    bpf.attachAll();
    process.stderr.write('sofdsnoop: no kprobes here: reading SCM_RIGHTS from the msghdr at syscalls:sys_enter_sendmsg and sys_exit_recvmsg\n');
    if (json) banner('Tracing file descriptors passed via socket. Ctrl-C to end.');
    else {
      out.line((opts.timestamp ? sprintf('%-14s', 'TIME(s)') : '') + sprintf('%-6s %-6s %-16s %-25s %-5s %s', 'ACTION', 'TID', 'COMM', 'SOCKET', 'FD', 'NAME'));
      out.flush();
    }
    const name = opts.name !== undefined ? new RegExp(opts.name) : undefined;
    let first: bigint | undefined;
    bpf.events<FdEvent>('events', 'fd_event', e => {
      if (name && !name.test(e.comm)) return;
      const action = e.action === 0 ? 'SEND' : 'RECV';
      const socket = `socket:[${e.sock_ino}]`;
      const file = e.path.depth ? bpfPath(e.path) : 'N/A';
      if (json) {
        emit.event({ action, pid: e.pid, tid: e.tid, comm: e.comm, sock_fd: e.sock_fd, socket, fd: e.fd, name: file }, { tsNs: e.ts });
        return;
      }
      first ??= e.ts;
      out.line((opts.timestamp ? sprintf('%-14.9f', Number(e.ts - first) / 1e9) : '') +
        sprintf('%-6s %-6d %-16s %-25s %-5d %s', action, e.tid, e.comm, `${e.sock_fd}:${socket}`, e.fd, file));
    });
    await untilExit(opts.duration);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`sofdsnoop: lost ${lost} events\n`);
  },
});
