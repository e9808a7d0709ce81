#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// socketio: socket I/O calls and bytes by process, direction, protocol and remote port: the book's
// socketio.bt (chapter 10), which counts at kprobes on sock_recvmsg and sock_sendmsg. This kernel has no
// kprobes: the sock:sock_recv_length and sock:sock_send_length tracepoints fire in those functions once a
// call, with the socket and what the call returned (bytes, or an error: a call, no bytes).
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_sock.h>   /* sock_traced() */

struct io_key {
	char comm[16];
	u32 pid;
	u32 write;    /* 0: read (recvmsg), 1: write (sendmsg) */
	u32 port;     /* the remote port, host order; 0 if none (Unix, unconnected) */
	char prot[32];
};
struct io_count { u64 count; u64 bytes; };

BPF_HASH(io, struct io_key, struct io_count, 10240);

static __always_inline int count(struct sock *sk, int ret, u32 write)
{
	if (!sock_traced())
		return 0;
	struct io_key key = { .pid = bpfkit_tgid(), .write = write };
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	key.port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	BPF_CORE_READ_STR_INTO(&key.prot, sk, __sk_common.skc_prot, name);
	static const struct io_count zero;
	struct io_count *c = map_lookup_or_try_init(io, &key, &zero);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->count, 1);
	if (ret > 0)
		__sync_fetch_and_add(&c->bytes, ret);
	return 0;
}

TRACEPOINT_PROBE(sock, sock_recv_length) { return count((struct sock *)args->sk, args->ret, 0); }
TRACEPOINT_PROBE(sock, sock_send_length) { return count((struct sock *)args->sk, args->ret, 1); }
`;

interface Options { pid?: number; interval?: string; count?: string }
interface IoKey { comm: string; pid: number; write: number; port: number; prot: string }

defineTool<Options>({
  name: 'socketio',
  subsystem: 'net',
  description: 'Socket I/O calls and bytes by process, direction, protocol and remote port',
  ports: { book: 'chapter 10, Networking (socketio.bt)' },
  probes: { tracepoint: ['sock/sock_recv_length', 'sock/sock_send_length'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['comm', 'pid', 'dir', 'protocol', 'port', 'count', 'bytes'] }),
  program,
  options: { pid: opt.pid('trace only this process') },
  positional: '[interval] [count]',
  examples: [
    ['socketio', 'socket I/O by process until Ctrl-C'],
    ['socketio 5', 'every 5 seconds'],
    ['socketio -p 181', 'only PID 181'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    process.stderr.write('socketio: counted at sock:sock_recv_length/sock_send_length: this kernel has no kprobes for sock_recvmsg/sock_sendmsg\n');
    banner('Tracing socket I/O... Hit Ctrl-C to end.');
    const io = bpf.map<IoKey, { count: bigint; bytes: bigint }>('io');
    await intervals(interval, count, (_last, seconds) => {
      const rows = io.drain().map(([k, v]) => ({ comm: k.comm, pid: k.pid, dir: k.write ? 'write' : 'read', protocol: k.prot, port: k.port,
        count: Number(v.count), bytes: Number(v.bytes) }));
      if (json) {
        emit.counts(seconds, rows.sort((a, b) => b.count - a.count));
        return;
      }
      // as bpftrace prints its maps: @io (calls) then @bytes, each smallest first, a blank line after each
      if (interval < 99999999) out.line(strftimeHMS());
      const key = (r: (typeof rows)[number]) => `${r.comm}, ${r.pid}, ${r.dir}, ${r.protocol}, ${r.port}`;
      for (const field of ['count', 'bytes'] as const) {
        for (const r of [...rows].sort((a, b) => a[field] - b[field])) out.line(`@${field === 'count' ? 'io' : 'bytes'}[${key(r)}]: ${r[field]}`);
        out.line('');
      }
    });
  },
});
