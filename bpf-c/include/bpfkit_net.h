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

#endif
