#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// sofamily: address families of new sockets by process, connect() and accept() apart: the book's
// sofamily.bt (chapter 10). As the book's, connect() is counted at its entry by the family of the
// address it is given; a successful accept() is counted by the family of the socket it returns (the
// book reads the peer address accept() fills in, and misses the accept()s given none).
import { defineNewSockTool } from '../../lib/cli/new-socks.js';
import { addressFamilyName } from '../../lib/host/net.js';

const program = `
#include <bpfkit_sock.h>   /* count_new_sock(), current_fd_sock() */

TRACEPOINT_PROBE(syscalls, sys_enter_connect)
{
	if (!sock_traced())
		return 0;
	u16 family = 0;
	bpf_probe_read_user(&family, sizeof(family), (void *)args->uservaddr);
	count_new_sock(SOCK_CALL_CONNECT, family, 0);
	return 0;
}

static __always_inline int accepted(long fd)
{
	struct sock *sk = fd >= 0 && sock_traced() ? (struct sock *)current_fd_sock(fd) : 0;
	if (sk)
		count_new_sock(SOCK_CALL_ACCEPT, BPF_CORE_READ(sk, __sk_common.skc_family), 0);
	return 0;
}

/* accept() returns the new socket's fd: nothing to keep at its entry */
TRACEPOINT_PROBE(syscalls, sys_exit_accept) { return accepted(args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_accept4) { return accepted(args->ret); }
`;

defineNewSockTool({
  name: 'sofamily',
  description: 'Address families of new sockets (connect, accept) by process',
  ports: { book: 'chapter 10, Networking (sofamily.bt)' },
  program,
  counted: 'address family',
  says: 'accept() counted at its exit by the socket it returns: a family also for the accepts given no address',
  field: 'family',
  nameOf: addressFamilyName,
  withProto: false,
});
