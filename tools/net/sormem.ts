#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// sormem: socket receive buffer usage and overflows: the book's sormem.bt (chapter 10). Histograms of a
// socket's receive memory (sk_rmem_alloc) and limit (sk_rcvbuf) at each receive call, and a line for
// each packet a full receive queue drops (sock:sock_rcvqueue_full: raw, ping and other sockets queued by
// sock_queue_rcv_skb(); UDP and TCP drop elsewhere, without it) and each time a protocol's memory limits
// are exceeded (sock:sock_exceed_buf_limit). The book reads the socket at a kprobe on sock_recvmsg's
// entry; this kernel has no kprobes: sock:sock_recv_length fires in it too, after the receive, so the
// memory is what the call left queued. -p applies to the histograms: the drops happen in softirq context.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_sock.h>   /* sock_traced() */

enum sormem_event { RCVQUEUE_FULL = 1, EXCEED_BUF_LIMIT = 2 };

struct event {
	u32 kind;
	s32 rmem_alloc;
	s32 rcvbuf;
	u32 truesize;
	s64 allocated;
	char prot[32];
};

BPF_HISTOGRAM(rmem_alloc);
BPF_HISTOGRAM(rmem_limit);
BPF_RINGBUF_OUTPUT(events, 16);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(sock, sock_recv_length)
{
	if (!sock_traced())
		return 0;
	struct sock *sk = (struct sock *)args->sk;
	s32 alloc = BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter);
	s32 limit = BPF_CORE_READ(sk, sk_rcvbuf);
	map_increment(rmem_alloc, bpf_log2l(alloc > 0 ? alloc : 0));
	map_increment(rmem_limit, bpf_log2l(limit > 0 ? limit : 0));
	return 0;
}

TRACEPOINT_PROBE(sock, sock_rcvqueue_full)
{
	struct event e = { .kind = RCVQUEUE_FULL, .rmem_alloc = args->rmem_alloc, .rcvbuf = args->sk_rcvbuf, .truesize = args->truesize };
	ringbuf_output(events, &e, sizeof(e));
	return 0;
}

TRACEPOINT_PROBE(sock, sock_exceed_buf_limit)
{
	struct event e = { .kind = EXCEED_BUF_LIMIT, .rmem_alloc = args->rmem_alloc, .allocated = args->allocated };
	__builtin_memcpy(e.prot, args->name, sizeof(e.prot));
	ringbuf_output(events, &e, sizeof(e));
	return 0;
}
`;

interface Options { pid?: number; interval?: string; count?: string }
interface SormemEvent { kind: number; rmem_alloc: number; rcvbuf: number; truesize: number; allocated: bigint; prot: string }

/** The fields of every event record: the numbers one kind has not are null. */
const eventFields = ['event', 'protocol', 'rmem_alloc', 'rcvbuf', 'skb_size', 'allocated'];

defineTool<Options>({
  name: 'sormem',
  subsystem: 'net',
  description: 'Socket receive buffer usage histograms, and receive queue overflows',
  ports: { book: 'chapter 10, Networking (sormem.bt)' },
  probes: { tracepoint: ['sock/sock_recv_length', 'sock/sock_rcvqueue_full', 'sock/sock_exceed_buf_limit'] },
  output: ['histogram', 'event'],
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: eventFields }),
  program,
  options: { pid: opt.pid('histograms of this process\'s receives only') },
  positional: '[interval] [count]',
  examples: [
    ['sormem', 'receive buffer histograms at Ctrl-C, overflows as they happen'],
    ['sormem 5', 'histograms every 5 seconds'],
    ['sormem -p 181', 'histograms of PID 181\'s receives only'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    process.stderr.write('sormem: socket memory read at sock:sock_recv_length, after the receive: this kernel has no kprobes for sock_recvmsg\n');
    banner('Tracing socket receive buffer size. Hit Ctrl-C to end.');
    bpf.events<SormemEvent>('events', 'event', e => {
      const full = e.kind === 1;
      if (json) {
        emit.event({ event: full ? 'rcvqueue_full' : 'exceed_buf_limit', protocol: full ? null : e.prot, rmem_alloc: e.rmem_alloc,
          rcvbuf: full ? e.rcvbuf : null, skb_size: full ? e.truesize : null, allocated: full ? null : Number(e.allocated) });
      } else if (full) {
        out.line(sprintf('tracepoint:sock:sock_rcvqueue_full rmem_alloc %d > rcvbuf %d, skb size %d', e.rmem_alloc, e.rcvbuf, e.truesize));
      } else {
        out.line(sprintf('tracepoint:sock:sock_exceed_buf_limit %s rmem_alloc %d, allocated %d', e.prot, e.rmem_alloc, Number(e.allocated)));
      }
    });
    const hists = (['rmem_alloc', 'rmem_limit'] as const).map(name => [name, bpf.histogram(name)] as const);
    await intervals(interval, count, () => {
      if (!json && interval < 99999999) out.line(strftimeHMS());
      for (const [name, hist] of hists) {
        const data = hist.read(true);
        if (json) emit.histogram(hist.json('bytes', {}, data), { histogram: name });
        else {
          out.line(`\n@${name}:`);
          out.write(hist.format('bytes', {}, data));
        }
      }
      if (!json) out.line('');
    });
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`sormem: lost ${lost} events\n`);
  },
});
