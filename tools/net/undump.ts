#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// undump: the data Unix domain sockets receive, one line per copy to the reader with its first bytes
// (bpftrace's undump.bt). bpftrace probes unix_stream_read_actor; without kprobes here the substitute is
// the skb:skb_copy_datagram_iovec tracepoint (tp_btf, else raw_tp), which every socket's receive copy
// passes, kept for sk_buffs of AF_UNIX sockets: its skb gives the data, its len the bytes copied. The
// bytes shown are from the start of the sk_buff's data (a stream read that starts inside an sk_buff
// shows that sk_buff's start), at most DUMP_BYTES of them.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const DUMP_BYTES = 128;

const program = `
#include <bpfkit_net.h>

#define AF_UNIX 1
#define DUMP_BYTES ${DUMP_BYTES}

const volatile u32 targ_tgid = 0;

struct dump_event {
	u64 ts;
	u32 pid;
	u32 tid;
	int len;
	u32 captured;
	char comm[16];
	u8 data[DUMP_BYTES];
};

BPF_RINGBUF_OUTPUT(events, 256);
BPFKIT_EXPORT_TYPE(struct dump_event);

static __always_inline int on_copy(u64 *ctx, struct sk_buff *skb, int len)
{
	u64 id = bpf_get_current_pid_tgid();
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (len <= 0 || BPF_CORE_READ(skb, sk, __sk_common.skc_family) != AF_UNIX)
		return 0;
	struct dump_event *e = ringbuf_reserve(events, struct dump_event);
	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = id;
	e->len = len;
	u32 n = len < DUMP_BYTES ? len : DUMP_BYTES;
	u32 linear = BPF_CORE_READ(skb, len) - BPF_CORE_READ(skb, data_len);   /* the bytes at skb->data */
	e->captured = n < linear ? n : linear;
	/* a constant size (the verifier takes no bound on a computed one here); only captured bytes are shown */
	if (bpf_probe_read_kernel(e->data, DUMP_BYTES, BPF_CORE_READ(skb, data)))
		e->captured = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
	return 0;
}

BTF_TRACEPOINT_PROBE(skb_copy_datagram_iovec, copy, on_copy(ctx, skb, len), const struct sk_buff *skb, int len)
`;

/** bpftrace's %r: printable ASCII as is, every other byte as \\xNN. */
function escapeBytes(bytes: ArrayLike<number>, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : b === 0x5c ? '\\\\' : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s;
}

interface Options { pid?: number; comm?: string; duration?: number }
interface DumpEvent { ts: bigint; pid: number; tid: number; len: number; captured: number; comm: string; data: number[] }

defineTool<Options>({
  name: 'undump',
  subsystem: 'net',
  description: 'Dump UNIX domain socket receive data',
  ports: { bpftrace: 'tools/undump.bt' },
  probes: { tp_btf: ['skb_copy_datagram_iovec'], raw_tp: ['skb_copy_datagram_iovec'] },
  output: 'event',
  records: () => ({ fields: ['ts_ns', 'pid', 'tid', 'comm', 'size', 'data'] }),
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-d', '3'], ends: 'itself' }],
  program,
  options: {
    pid: opt.pid(),
    comm: opt.comm('only show process names containing this name'),
    duration: opt.duration(),
  },
  examples: [
    ['undump', 'dump what UNIX sockets receive'],
    ['undump -p 181', 'only what PID 181 receives'],
    ['undump -c sshd', 'only processes named sshd...'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    process.stderr.write('undump: no kprobes here: the data of AF_UNIX sk_buffs at skb:skb_copy_datagram_iovec\n');
    banner('Dump UNIX socket packages RX. Ctrl-C to end');
    if (!json) {
      out.line(sprintf('%-8s %-16s %-8s %-8s %-s', 'TIME', 'COMM', 'PID', 'SIZE', 'DATA'));
      out.flush();
    }
    bpf.events<DumpEvent>('events', 'dump_event', e => {
      if (opts.comm !== undefined && !e.comm.includes(opts.comm)) return;
      const data = escapeBytes(e.data, e.captured);
      if (json) emit.event({ pid: e.pid, tid: e.tid, comm: e.comm, size: e.len, data }, { tsNs: e.ts });
      else out.line(sprintf('%-8s %-16s %-8d %-8d %s', strftimeHMS(), e.comm, e.pid, e.len, data));
    });
    await untilExit(opts.duration);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`undump: lost ${lost} events\n`);
  },
});
