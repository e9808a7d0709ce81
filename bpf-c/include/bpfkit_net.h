/* bpfkit_net.h — what the TCP life cycle tools (tcplife, tcpstates, tcpconnect, tcpaccept, ...) share:
 * the state and family numbers, and the addresses of a sock:inet_sock_set_state event. */
#ifndef __BPFKIT_NET_H
#define __BPFKIT_NET_H

#include <bpfkit.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* include/net/tcp_states.h */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10

/* Copies the tracepoint's source and destination addresses into 16-byte fields: the first 4 bytes for
 * IPv4, all 16 for IPv6 (the format user space reads with formatIp()). */
#define copy_set_state_addrs(args, saddr16, daddr16) do {			\
	if ((args)->family == AF_INET) {					\
		__builtin_memcpy((saddr16), (args)->saddr, 4);			\
		__builtin_memcpy((daddr16), (args)->daddr, 4);			\
	} else {								\
		__builtin_memcpy((saddr16), (args)->saddr_v6, 16);		\
		__builtin_memcpy((daddr16), (args)->daddr_v6, 16);		\
	}									\
} while (0)

/* A TCP session as sock:inet_sock_set_state describes it, as an event carries it (tcplife, tcpstates): the
 * family, the local and remote ports, and both addresses in 16 bytes (user space: sessionAddrs()). */
struct set_state_session { u16 family; u16 lport; u16 dport; u8 saddr[16]; u8 daddr[16]; };

#define copy_set_state_session(args, session) do {				\
	(session)->family = (args)->family;					\
	(session)->lport = (args)->sport;					\
	(session)->dport = (args)->dport;					\
	copy_set_state_addrs(args, (session)->saddr, (session)->daddr);		\
} while (0)

/* The pointers from a task to the sock behind one of its fds, as types of our own (bpfkit_task.h says why) */
struct file___lean { void *private_data; } __attribute__((preserve_access_index));
struct fdtable___lean { unsigned int max_fds; struct file___lean **fd; } __attribute__((preserve_access_index));
struct files_struct___lean { struct fdtable___lean *fdt; } __attribute__((preserve_access_index));
struct task_struct___files { struct files_struct___lean *files; } __attribute__((preserve_access_index));
struct socket___lean { short type; void *file; void *sk; } __attribute__((preserve_access_index));

#define SOCK_STREAM 1
#define SOCK_DGRAM 2

/* The struct file of the current task's fd (0 when there is none). */
static __always_inline struct file___lean *current_fd_file(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct___files *task = (void *)bpf_get_current_task();
	struct fdtable___lean *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file___lean **fds = BPF_CORE_READ(fdt, fd);
	struct file___lean *file = 0;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* The struct socket behind the current task's fd; 0 when there is none or the fd is not a socket (a
 * socket's file points back at it: other files' private_data is something else). */
static __always_inline struct socket___lean *current_fd_socket(long fd)
{
	struct file___lean *file = current_fd_file(fd);
	if (!file)
		return 0;
	struct socket___lean *sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return 0;
	return sock;
}

/* The struct sock behind the current task's fd (0 when there is none): what accept() returned, for the
 * tools that see a new connection at sock:inet_sock_set_state (softirq) and its owner at the syscall. */
static __always_inline u64 current_fd_sock(long fd)
{
	struct socket___lean *sock = current_fd_socket(fd);
	if (!sock)
		return 0;
	return (u64)BPF_CORE_READ(sock, sk);
}

/* A sockaddr_in or sockaddr_in6 in user memory (connect()'s, accept()'s, sendto()'s): the family
 * (AF_INET or AF_INET6; 0 for any other or when unreadable), the port in host order and the address in
 * the 16-byte form of copy_set_state_addrs(). */
struct bpfkit_sockaddr { u16 family; u16 port; u8 addr[16]; };

static __always_inline u16 read_user_sockaddr(const void *uaddr, struct bpfkit_sockaddr *sa)
{
	u16 head[2] = {};   /* sa_family, sin_port / sin6_port */
	sa->family = 0;
	if (!uaddr || bpf_probe_read_user(head, sizeof(head), uaddr))
		return 0;
	/* sockaddr_in: address at 4; sockaddr_in6: flowinfo at 4, address at 8 */
	if (head[0] == AF_INET) {
		if (bpf_probe_read_user(sa->addr, 4, uaddr + 4))
			return 0;
	} else if (head[0] == AF_INET6) {
		if (bpf_probe_read_user(sa->addr, 16, uaddr + 8))
			return 0;
	} else {
		return 0;
	}
	sa->port = __builtin_bswap16(head[1]);
	sa->family = head[0];
	return sa->family;
}

/* At sys_enter_connect: whether to trace this call, by -p's tgid (0: any caller) and by its address,
 * which must be IPv4 or IPv6 (read into *sa). */
static __always_inline bool traced_ip_connect(u32 tgid, const void *uservaddr, struct bpfkit_sockaddr *sa)
{
	if (tgid && (bpf_get_current_pid_tgid() >> 32) != tgid)
		return false;
	return read_user_sockaddr(uservaddr, sa) != 0;
}

/* The network namespace's inode number of a socket (what `ls -L -i /run/netns/NAME` shows). */
static __always_inline u32 sock_netns(u64 skaddr)
{
	struct sock *sk = (struct sock *)skaddr;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* A socket's two ends as the tools keep them: local and remote address (16-byte form, as
 * copy_set_state_addrs()) and ports in host order; returns the family (AF_INET or AF_INET6, else 0). */
static __always_inline u16 sock_endpoints(struct sock *sk, u8 *laddr16, u8 *raddr16, u16 *lport, u16 *rport)
{
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	*lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	*rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(laddr16, &l, 4);
		__builtin_memcpy(raddr16, &r, 4);
	} else if (family == AF_INET6) {
		/* (BPF_CORE_READ_INTO would copy sizeof(*laddr16): one byte) */
		bpf_core_read(laddr16, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(raddr16, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return 0;
	}
	return family;
}

/* A passive connection is seen established in softirq context (no process): the tools keep its event in
 * a hash by socket and send it when accept() hands that socket to a process, with that process's PID and
 * comm and the time (field `ts`: bpf_ktime_get_ns() / ts_div). `ctx` must be in scope (ringbuf_submit). */
#define send_accepted(rb, pending_map, type, sk, pid_, ts, ts_div) ({				\
	type *__pending = (sk) ? bpf_map_lookup_elem(&(pending_map), &(sk)) : 0;		\
	if (__pending) {									\
		type *__e = ringbuf_reserve(rb, type);						\
		if (__e) {									\
			__builtin_memcpy(__e, __pending, sizeof(*__e));				\
			__e->ts = bpf_ktime_get_ns() / (ts_div);				\
			__e->pid = (pid_);							\
			bpf_get_current_comm(&__e->comm, sizeof(__e->comm));			\
			ringbuf_submit(rb, __e);						\
		}										\
		bpf_map_delete_elem(&(pending_map), &(sk));					\
	}											\
	0; })

#endif
