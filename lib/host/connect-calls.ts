// connect() calls on IPv4 and IPv6 sockets, one record each, from the syscall tracepoints: the program
// soconnect and udpconnect share. sys_enter_connect reads the address asked for from user memory (and,
// for udpconnect, checks the fd's socket type), sys_exit_connect adds the result and the call's duration.
// Program text, not a header: bpfkit generates each TRACEPOINT_PROBE's args struct from the program.
import { formatIp } from './net.js';

export const connectProgram = `
#include <bpfkit_net.h>   /* traced_ip_connect(), current_fd_socket() */

const volatile u32 targ_tgid = 0;
const volatile u16 targ_family = 0;     /* AF_INET or AF_INET6; 0: both */
const volatile short targ_sock_type = 0; /* SOCK_DGRAM (udpconnect); 0: any */

struct connect_event {
	u64 ts_ns;      /* at entry */
	u64 lat_ns;
	u32 pid;
	u32 tid;
	u32 uid;
	int ret;
	int fd;
	char comm[16];
	struct bpfkit_sockaddr sa;
};

BPF_HASH(connect_calls, u32, struct connect_event, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct connect_event);

TRACEPOINT_PROBE(syscalls, sys_enter_connect)
{
	struct connect_event e = {};
	if (!traced_ip_connect(targ_tgid, (const void *)args->uservaddr, &e.sa))
		return 0;
	if (targ_family && e.sa.family != targ_family)
		return 0;
	if (targ_sock_type) {
		struct socket___lean *sock = current_fd_socket(args->fd);
		if (!sock || BPF_CORE_READ(sock, type) != targ_sock_type)
			return 0;
	}
	u64 id = bpf_get_current_pid_tgid();
	e.ts_ns = bpf_ktime_get_ns();
	e.pid = id >> 32;
	e.tid = id;
	e.uid = bpf_get_current_uid_gid();
	e.fd = args->fd;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	u32 tid = id;
	bpf_map_update_elem(&connect_calls, &tid, &e, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_connect)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct connect_event *e = bpf_map_lookup_elem(&connect_calls, &tid);
	if (!e)
		return 0;
	e->ret = args->ret;
	e->lat_ns = bpf_ktime_get_ns() - e->ts_ns;
	ringbuf_output(events, e, sizeof(*e));
	bpf_map_delete_elem(&connect_calls, &tid);
	return 0;
}
`;

export interface ConnectEvent {
  ts_ns: bigint; lat_ns: bigint; pid: number; tid: number; uid: number; ret: number; fd: number; comm: string;
  sa: { family: number; port: number; addr: number[] };
}

/** The address a call asked for: IP version, address text and port. */
export function connectTarget(e: ConnectEvent): { ip: 4 | 6; addr: string; port: number } {
  return { ip: e.sa.family === 2 ? 4 : 6, addr: formatIp(e.sa.family, e.sa.addr), port: e.sa.port };
}

/** The program's read-only settings from -p, -4/-6 and the socket type (SOCK_DGRAM: 2; 0: any). */
export const connectRodata = (o: { pid?: number }, family: number, sockType = 0) =>
  ({ targ_tgid: o.pid ?? 0, targ_family: family, targ_sock_type: sockType });
