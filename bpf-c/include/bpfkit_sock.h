/* bpfkit_sock.h — what the book's socket tools (sockstat, socketio, socksize, sofamily, soprotocol,
 * sormem) share: the -p filter, and the map of new sockets by call and process that sofamily and
 * soprotocol count into from the connect() and accept() syscalls (the book's kprobes have no
 * stand-in here but those syscalls and the sock behind their fd). */
#ifndef __BPFKIT_SOCK_H
#define __BPFKIT_SOCK_H

#include <bpfkit_net.h>   /* current_fd_sock(), AF_* */

const volatile u32 targ_tgid = 0;   /* -p: this process only; 0: all */

static __always_inline bool sock_traced(void)
{
	return !targ_tgid || bpfkit_tgid() == targ_tgid;
}

/* The calls that make a new connected socket */
enum sock_call { SOCK_CALL_ACCEPT = 1, SOCK_CALL_CONNECT = 2 };

/* What sofamily and soprotocol count: by call, process name and a number (family or protocol), with
 * the protocol's name as the kernel's struct proto has it ("TCP", "UDPv6"), empty where unused. */
struct new_sock_key {
	char comm[16];
	u32 call;
	u32 value;
	char prot[32];
};

BPF_HASH(new_socks, struct new_sock_key, u64, 10240);

static __always_inline void count_new_sock(u32 call, u32 value, struct sock *sk_for_name)
{
	struct new_sock_key key = { .call = call, .value = value };
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (sk_for_name)
		BPF_CORE_READ_STR_INTO(&key.prot, sk_for_name, __sk_common.skc_prot, name);
	map_increment(new_socks, key);
}

#endif /* __BPFKIT_SOCK_H */
