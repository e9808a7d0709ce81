#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// soprotocol: transport protocols of new sockets by process, connect() and accept() apart: the book's
// soprotocol.bt (chapter 10), which reads sk_protocol and the kernel's protocol name (struct proto:
// "TCP", "UDPv6") of the socket at kprobes on security_socket_connect and security_socket_accept. This
// kernel has no kprobes: the socket is the one behind connect()'s fd at its entry, as the book's, and
// behind the fd a successful accept() returns (the book's is the listening one: the same protocol).
import { defineNewSockTool } from '../../lib/cli/new-socks.js';
import { ipProtocolName } from '../../lib/host/net.js';

const program = `
#include <bpfkit_sock.h>   /* count_new_sock(), current_fd_sock() */

static __always_inline int count(u32 call, long fd)
{
	struct sock *sk = fd >= 0 && sock_traced() ? (struct sock *)current_fd_sock(fd) : 0;
	if (sk)
		count_new_sock(call, BPF_CORE_READ(sk, sk_protocol), sk);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_connect) { return count(SOCK_CALL_CONNECT, args->fd); }
/* accept() returns the new socket's fd: nothing to keep at its entry */
TRACEPOINT_PROBE(syscalls, sys_exit_accept) { return count(SOCK_CALL_ACCEPT, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_accept4) { return count(SOCK_CALL_ACCEPT, args->ret); }
`;

defineNewSockTool({
  name: 'soprotocol',
  description: 'Transport protocols of new sockets (connect, accept) by process',
  ports: { book: 'chapter 10, Networking (soprotocol.bt)' },
  program,
  counted: 'transport protocol',
  says: 'the socket read behind the fd at syscalls:sys_enter_connect and sys_exit_accept*: this kernel has no kprobes for security_socket_connect/accept',
  field: 'protocol',
  nameOf: ipProtocolName,
  withProto: true,
});
