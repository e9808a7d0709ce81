#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// so1stbyte: IP socket first-byte latency, from connect() to the first read of that socket returning
// data, as a log2 histogram per process (the book's so1stbyte.bt, chapter 10), at the syscall
// tracepoints. A connect that succeeds or is in progress starts a socket's clock, keyed by (process, fd)
// with the struct sock behind the fd, so a read of another socket that reuses the fd number is not
// taken; the first read/readv/pread/recvfrom/recvmsg/recvmmsg of it returning data stops it. A read that
// returns nothing yet (EAGAIN) or is interrupted waits for the next (the book counts the first read
// call, whatever it returns); end of file or close() before any data drops the socket.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

const READS = ['read', 'readv', 'pread64', 'preadv', 'preadv2', 'recvfrom', 'recvmsg', 'recvmmsg'];

const program = `
#include <bpfkit_net.h>   /* traced_ip_connect(), current_fd_sock() */

#define EINTR 4
#define EAGAIN 11
#define EINPROGRESS 115

const volatile u32 targ_tgid = 0;

struct sock_fd { u32 tgid; int fd; };
struct connect_call { u64 ts; int fd; };
struct first_byte_wait { u64 ts; u64 sk; };
struct hist_key { u32 pid; char comm[16]; u32 __pad; u64 slot; }; /* a hash key has no unnamed padding: its bytes are compared */

BPF_HASH(connects, u32, struct connect_call, 10240);            /* by thread, during connect() */
BPF_LRU_HASH(waiting, struct sock_fd, struct first_byte_wait, 10240);   /* connected, no data read yet */
BPF_HASH(reads, u32, struct sock_fd, 10240);                    /* by thread, during a read of one of those */
BPF_HISTOGRAM(dist, struct hist_key, 10240);

TRACEPOINT_PROBE(syscalls, sys_enter_connect)
{
	struct bpfkit_sockaddr sa;
	if (!traced_ip_connect(targ_tgid, (const void *)args->uservaddr, &sa))
		return 0;
	struct connect_call c = { .ts = bpf_ktime_get_ns(), .fd = args->fd };
	u32 tid = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&connects, &tid, &c, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_connect)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	struct connect_call *c = bpf_map_lookup_elem(&connects, &tid);
	if (!c)
		return 0;
	if (args->ret == 0 || args->ret == -EINPROGRESS) {
		struct sock_fd key = { .tgid = id >> 32, .fd = c->fd };
		struct first_byte_wait w = { .ts = c->ts, .sk = current_fd_sock(c->fd) };
		bpf_map_update_elem(&waiting, &key, &w, BPF_ANY);
	}
	bpf_map_delete_elem(&connects, &tid);
	return 0;
}

static __always_inline int read_enter(long fd)
{
	u64 id = bpf_get_current_pid_tgid();
	struct sock_fd key = { .tgid = id >> 32, .fd = fd };
	if (!bpf_map_lookup_elem(&waiting, &key))
		return 0;
	u32 tid = id;
	bpf_map_update_elem(&reads, &tid, &key, BPF_ANY);
	return 0;
}

static __always_inline int read_exit(long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	struct sock_fd *key = bpf_map_lookup_elem(&reads, &tid);
	if (!key)
		return 0;
	struct sock_fd k = *key;
	bpf_map_delete_elem(&reads, &tid);
	if (ret == -EAGAIN || ret == -EINTR)
		return 0;   /* no data yet: the next read may bring the first byte */
	struct first_byte_wait *w = bpf_map_lookup_elem(&waiting, &k);
	if (!w)
		return 0;
	/* the same socket as connect()'s (not another one that took its fd number since) */
	if (ret > 0 && w->sk == current_fd_sock(k.fd)) {
		struct hist_key h = { .pid = k.tgid, .slot = bpf_log2l((bpf_ktime_get_ns() - w->ts) / 1000) };
		bpf_get_current_comm(&h.comm, sizeof(h.comm));
		map_increment(dist, h);
	}
	bpf_map_delete_elem(&waiting, &k);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_close)
{
	struct sock_fd key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = args->fd };
	bpf_map_delete_elem(&waiting, &key);   /* never read */
	return 0;
}

${READS.map(r => `TRACEPOINT_PROBE(syscalls, sys_enter_${r}) { return read_enter(args->fd); }
TRACEPOINT_PROBE(syscalls, sys_exit_${r}) { return read_exit(args->ret); }`).join('\n')}
`;

interface Options { pid?: number; timestamp: boolean; interval?: string; count?: string }
interface HistKey { pid: number; comm: string }
const section = (k: HistKey) => `${k.comm} ${k.pid}`;

defineTool<Options>({
  name: 'so1stbyte',
  subsystem: 'net',
  description: 'Summarize IP socket first-byte latency (connect() to the first data read) as a histogram',
  ports: { book: 'originals/Ch10_Networking/so1stbyte.bt' },
  probes: { tracepoint: ['syscalls/sys_enter_connect', 'syscalls/sys_exit_connect', 'syscalls/sys_enter_close', ...READS.flatMap(r => [`syscalls/sys_enter_${r}`, `syscalls/sys_exit_${r}`])] },
  output: 'histogram',
  records: () => ({ sectionBy: 'process' }),
  invocations: [{ args: ['3', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    pid: opt.pid(),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['so1stbyte', 'first-byte latency histograms per process until Ctrl-C'],
    ['so1stbyte 1 10', 'print 1 second summaries, 10 times'],
    ['so1stbyte -p 181', 'only trace PID 181'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    const dist = bpf.histogram('dist');
    const view = { sectionHeader: 'process', sectionFormat: section };
    banner('Tracing IP socket first-read-byte latency. Ctrl-C to end.');
    await intervals(interval, count, () => {
      const data = dist.read(true);
      if (json) {
        emit.histogram(dist.json('usecs', view, data));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      out.write(dist.format('usecs', view, data));
    });
  },
});
