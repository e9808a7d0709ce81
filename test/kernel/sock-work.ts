// The socket workloads of the socket tools' tests (sockstat, socketio, socksize, sofamily, soprotocol,
// sormem): a held C program (helpers.ts buildHeldProgram/startHeld) whose body calls these functions,
// so that every socket call it makes is known in advance, all on the loopback, in its own process (-p).
import path from 'node:path';
import { attached, buildHeldProgram, startHeld, startTool, type HeldProcess, type Running } from './helpers.js';

const functions = `
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <stddef.h>
#include <stdio.h>

static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (void *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (void *)ss;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*a);
}

/* A socket bound to the loopback (an ephemeral port), listening if a stream; its address in *ss. */
static int bound(int family, int type, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, type, 0);
	*len = loopback(family, ss);
	if (bind(fd, (void *)ss, *len) || getsockname(fd, (void *)ss, len) || (type == SOCK_STREAM && listen(fd, 64)))
		exit(3);
	return fd;
}

/* n TCP sessions to a listener of our own (socket + bind + listen once; socket, connect, accept
 * each), each client sending 'sends' writes of 'size' bytes, all read by the accepted end in one recv. */
static void tcp_sessions(int family, int n, int sends, int size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char *buf = calloc(1, (size_t)size * sends + 1);
	int l = bound(family, SOCK_STREAM, &ss, &len);
	for (int i = 0; i < n; i++) {
		int c = socket(family, SOCK_STREAM, 0);
		if (connect(c, (void *)&ss, len))
			exit(4);
		int a = accept(l, NULL, NULL);
		for (int j = 0; j < sends; j++)
			if (send(c, buf, size, 0) != size)
				exit(5);
		if (sends && recv(a, buf, (size_t)size * sends, MSG_WAITALL) != size * sends)
			exit(6);
		close(c);
		close(a);
	}
	close(l);
	free(buf);
}

/* A UDP socket connect()ed to a receiver of our own 'connects' times, sending 'sends' datagrams of
 * 'size' bytes, each read by the receiver in a recv of its own. */
static void udp_sends(int family, int connects, int sends, int size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char *buf = calloc(1, size + 1);
	int r = bound(family, SOCK_DGRAM, &ss, &len);
	int s = socket(family, SOCK_DGRAM, 0);
	for (int i = 0; i < connects; i++)
		if (connect(s, (void *)&ss, len))
			exit(7);
	for (int j = 0; j < sends; j++) {
		if (send(s, buf, size, 0) != size)
			exit(8);
		if (recv(r, buf, size, 0) != size)
			exit(9);
	}
	close(s);
	close(r);
	free(buf);
}

/* A ping socket (ICMP datagrams: net.ipv4.ping_group_range must let us) with the smallest receive
 * buffer, that does not read while it sends n echo requests of 'size' bytes to the loopback: its queue
 * holds a few replies and drops the rest (sock_queue_rcv_skb: sock:sock_rcvqueue_full). Prints
 * "rcvbuf <its limit>", then reads what it queued and prints "read <replies>". */
static void ping_flood(int n, int size)
{
	int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), one = 1, rcvbuf = 0, got = 0;
	socklen_t optlen = sizeof(rcvbuf);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)) || getsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen))
		exit(12);
	printf("rcvbuf %d\\n", rcvbuf);
	fflush(stdout);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned char *buf = calloc(1, 65536);
	for (int i = 0; i < n; i++) {
		buf[0] = 8; /* ICMP_ECHO; the kernel sets the id and the checksum */
		buf[7] = i;
		if (sendto(s, buf, size, 0, (void *)&to, sizeof(to)) != size)
			exit(13);
	}
	while (recv(s, buf, 65536, MSG_DONTWAIT) > 0)
		got++;
	printf("read %d\\n", got);
	fflush(stdout);
	close(s);
	free(buf);
}

/* n Unix stream sessions to a listener of our own on an abstract address. */
static void unix_sessions(int n)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "bpfkit-sock-%d", getpid());
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(un.sun_path + 1);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (void *)&un, len) || listen(l, 64))
		exit(10);
	for (int i = 0; i < n; i++) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (void *)&un, len))
			exit(11);
		int a = accept(l, NULL, NULL);
		close(c);
		close(a);
	}
	close(l);
}
`;

/** Builds (in `dir`) and starts a held program running `body` (calls of the functions above) when released; in network namespace `netns` if given. */
export function sockWorkload(dir: string, name: string, body: string, netns?: string): HeldProcess {
  const bin = buildHeldProgram(path.join(dir, name), body, functions);
  return netns ? startHeld('ip', ['netns', 'exec', netns, bin]) : startHeld(bin); // (ip execs it: the same PID)
}

/**
 * Runs `body` in a held program named `name` (in network namespace `netns` if given) while the tools that
 * `runs(pid)` names (each a tool and its arguments) trace it: once they all attached, it is released; when
 * it is done, they are stopped (Ctrl-C). The tools, what the program printed, and its PID.
 */
export async function traceSockWork(dir: string, name: string, body: string, runs: (pid: string) => [string, string[]][],
  netns?: string): Promise<{ tools: Running[]; said: string; pid: number }> {
  const w = sockWorkload(dir, name, body, netns);
  let said = '';
  w.child.stdout!.on('data', d => (said += d));
  const tools = runs(String(w.pid)).map(([tool, args]) => startTool(tool, args));
  try {
    await Promise.all(tools.map(attached));
    w.go();
    await w.done;
  } finally {
    await Promise.all(tools.map(t => t.stop()));
    w.end();
  }
  return { tools, said, pid: w.pid };
}
