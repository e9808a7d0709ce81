#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// soaccept: accept() and accept4() calls on IPv4 and IPv6 sockets with the peer's address and port and
// the result (the book's soaccept.bt, chapter 10). At syscalls:sys_enter_accept/accept4 the listening fd
// is kept; at the exit the peer is read from the socket accept() returned (fd -> socket -> sock, CO-RE),
// so it is shown also when the caller passed no sockaddr (as libuv and Go do), which the book's
// reading of the user's sockaddr misses. A failed call shows the listener's family and no address.
import { defineTool, opt } from '../../lib/cli/index.js';
import { familyOptions, oneFamily } from '../../lib/cli/net-options.js';
import { familyFilter, formatIp } from '../../lib/host/net.js';
import { errnoName } from '../../lib/host/errno.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit_net.h>   /* current_fd_sock(), sock_endpoints() */

const volatile u32 targ_tgid = 0;
const volatile u16 targ_family = 0;
const volatile bool targ_failed = false;

struct accept_event {
	u64 ts_ns;
	u32 pid;
	u32 tid;
	int ret;
	u16 family;
	u16 rport;
	u16 lport;
	u8 raddr[16];
	u8 laddr[16];
	char comm[16];
};

BPF_HASH(listen_fds, u32, int, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct accept_event);

static __always_inline int accept_enter(int fd)
{
	u64 id = bpf_get_current_pid_tgid();
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	u32 tid = id;
	bpf_map_update_elem(&listen_fds, &tid, &fd, BPF_ANY);
	return 0;
}

static __always_inline int accept_exit(void *ctx, long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	int *fd = bpf_map_lookup_elem(&listen_fds, &tid);
	if (!fd)
		return 0;
	int listen_fd = *fd;
	bpf_map_delete_elem(&listen_fds, &tid);
	if (targ_failed && ret >= 0)
		return 0;
	struct accept_event e = { .ret = ret };
	/* the accepted socket's two ends; for a failed call, the listener's family only */
	struct sock *sk = (struct sock *)current_fd_sock(ret >= 0 ? ret : listen_fd);
	if (!sk)
		return 0;
	if (ret >= 0) {
		e.family = sock_endpoints(sk, e.laddr, e.raddr, &e.lport, &e.rport);
	} else {
		e.family = BPF_CORE_READ(sk, __sk_common.skc_family);
		e.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	}
	if ((e.family != AF_INET && e.family != AF_INET6) || (targ_family && e.family != targ_family))
		return 0;   /* Unix and other families */
	e.ts_ns = bpf_ktime_get_ns();
	e.pid = id >> 32;
	e.tid = tid;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	ringbuf_output(events, &e, sizeof(e));
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_accept) { return accept_enter(args->fd); }
TRACEPOINT_PROBE(syscalls, sys_enter_accept4) { return accept_enter(args->fd); }
TRACEPOINT_PROBE(syscalls, sys_exit_accept) { return accept_exit(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_accept4) { return accept_exit(ctx, args->ret); }
`;

/** The book's words for accept(2)'s results (its err2str); other errors print their errno name. */
const RESULTS: Record<string, string> = {
  EPERM: 'Permission denied', EINTR: 'Interrupted', EBADF: 'Invalid sockfd', EAGAIN: 'None to accept',
  ENOMEM: 'Out of memory', EFAULT: 'Sock struct addr invalid', EINVAL: 'Args invalid', ENFILE: 'System FD limit',
  EMFILE: 'Process FD limit', EPROTO: 'Protocol error', ENOTSOCK: 'FD not a socket', EOPNOTSUPP: 'Not SOCK_STREAM',
  ECONNABORTED: 'Aborted', ENOBUFS: 'Memory (ENOBUFS)',
};
const resultText = (errno: number) => (errno === 0 ? 'Success' : RESULTS[errnoName(errno) ?? ''] ?? errnoName(errno) ?? `errno ${errno}`);

interface Options { timestamp: boolean; pid?: number; ipv4: boolean; ipv6: boolean; failed: boolean; duration?: number }
interface AcceptEvent {
  ts_ns: bigint; pid: number; tid: number; ret: number; family: number; rport: number; lport: number; raddr: number[]; laddr: number[]; comm: string;
}

defineTool<Options>({
  name: 'soaccept',
  subsystem: 'net',
  description: 'Trace IP socket accept() calls with the peer address and result',
  ports: { book: 'originals/Ch10_Networking/soaccept.bt' },
  probes: { tracepoint: ['syscalls/sys_enter_accept', 'syscalls/sys_enter_accept4', 'syscalls/sys_exit_accept', 'syscalls/sys_exit_accept4'] },
  output: 'event',
  records: () => ({ fields: ['ts_ns', 'pid', 'tid', 'comm', 'ip', 'raddr', 'rport', 'lport', 'fd', 'errno', 'result'] }),
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-t', '-d', '3'], ends: 'itself' }],
  program,
  options: {
    timestamp: opt.flag('t', 'include timestamp on output'),
    pid: opt.pid(),
    ...familyOptions,
    failed: opt.flag('x', 'only show failed accept() calls'),
    duration: opt.duration(),
  },
  examples: [
    ['soaccept', 'trace all IP accept() calls'],
    ['soaccept -t', 'include timestamps'],
    ['soaccept -p 181', 'only trace PID 181'],
    ['soaccept -x', 'only show failed accepts (EAGAIN: none to accept, ...)'],
  ],
  validate: oneFamily,

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_family: familyFilter(opts), targ_failed: opts.failed } });
    bpf.attachAll();
    if (json) banner('Tracing IP accept() calls. Ctrl-C to end.');
    else {
      out.line((opts.timestamp ? sprintf('%-9s ', 'TIME(s)') : '') + sprintf('%-6s %-16s FAM %-16s %-5s %s', 'PID', 'PROCESS', 'ADDRESS', 'PORT', 'RESULT'));
      out.flush();
    }
    let first: bigint | undefined;
    bpf.events<AcceptEvent>('events', 'accept_event', e => {
      const errno = e.ret < 0 ? -e.ret : 0;
      const ip = e.family === 2 ? 4 : 6;
      const raddr = errno ? '' : formatIp(e.family, e.raddr);
      if (json) {
        emit.event({ pid: e.pid, tid: e.tid, comm: e.comm, ip, raddr, rport: e.rport, lport: e.lport, fd: errno ? -1 : e.ret, errno, result: resultText(errno) },
          { tsNs: e.ts_ns });
        return;
      }
      first ??= e.ts_ns;
      out.line((opts.timestamp ? sprintf('%-9.3f ', Number(e.ts_ns - first) / 1e9) : '') +
        sprintf('%-6d %-16s %-3d %-16s %-5d %s', e.pid, e.comm, ip, errno ? '-' : raddr, errno ? 0 : e.rport, resultText(errno)));
    });
    await untilExit(opts.duration);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`soaccept: lost ${lost} events\n`);
  },
});
