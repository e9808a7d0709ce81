#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// tcpnagle: TCP transmit calls by their Nagle/cork flags, and how long a socket's sends stayed blocked
// (tcp_write_xmit returning with data held back until it returns with none), as the book's tcpnagle.bt
// (chapter 10). tcp_write_xmit has no tracepoint: this needs kprobes, and where the kernel has none the
// tool stops with one line saying so (the VM lane, with kprobes, runs it).
import fs from 'node:fs';
import { defineTool, ToolError } from '../../lib/cli/index.js';
import { bpftraceLog2ToBcc, formatBpftraceLog2, log2HistJson } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

BPF_HASH(xmit_sock, u32, u64, 10240);       /* tid -> the socket of its tcp_write_xmit call */
BPF_HASH(blocked_since, u64, u64, 10240);   /* socket -> when it first returned with data held */
BPF_HASH(nagle, u32, u64, 16);              /* nonagle argument -> calls */
BPF_ARRAY(blocked_us, u64, 64);             /* bpftrace hist() slots: 0, then [2^(k-1), 2^k) */

SEC("kprobe/tcp_write_xmit")
int BPF_KPROBE(xmit_entry, struct sock *sk, unsigned int mss_now, int nonagle)
{
	u32 flags = nonagle;
	u64 one = 1, *n = bpf_map_lookup_elem(&nagle, &flags);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&nagle, &flags, &one, BPF_NOEXIST);
	u32 tid = bpf_get_current_pid_tgid();
	u64 skp = (u64)sk;
	bpf_map_update_elem(&xmit_sock, &tid, &skp, BPF_ANY);
	return 0;
}

SEC("kretprobe/tcp_write_xmit")
int BPF_KRETPROBE(xmit_return, long ret)
{
	u32 tid = bpf_get_current_pid_tgid();
	u64 *skp = bpf_map_lookup_elem(&xmit_sock, &tid);
	if (!skp)
		return 0;
	u64 sk = *skp;
	bpf_map_delete_elem(&xmit_sock, &tid);
	bool held = ret & 0xff;   /* true: data left unsent (Nagle, cork, window) */
	u64 *since = bpf_map_lookup_elem(&blocked_since, &sk);
	if (held && !since) {
		u64 now = bpf_ktime_get_ns();
		bpf_map_update_elem(&blocked_since, &sk, &now, BPF_ANY);
	} else if (!held && since) {
		u64 us = (bpf_ktime_get_ns() - *since) / 1000;
		u32 slot = us ? bpf_log2l(us) + 1 : 0;
		if (slot > 63)
			slot = 63;
		u64 *count = bpf_map_lookup_elem(&blocked_us, &slot);
		if (count)
			__sync_fetch_and_add(count, 1);
		bpf_map_delete_elem(&blocked_since, &sk);
	}
	return 0;
}
`;

/** include/net/tcp.h's TCP_NAGLE_OFF (1), TCP_NAGLE_CORK (2), TCP_NAGLE_PUSH (4) as the book names them. */
/** The kprobe PMU: where it is missing, so are kprobes (a BPF kprobe link is made through it). */
const KPROBE_PMU = '/sys/bus/event_source/devices/kprobe';

const FLAG_NAMES: Record<number, string> = { 0: 'ON', 1: 'OFF', 2: 'CORK', 3: 'OFF|CORK', 4: 'PUSH', 5: 'OFF|PUSH' };

defineTool<Record<string, never>>({
  name: 'tcpnagle',
  subsystem: 'net',
  description: 'Trace TCP nagle and xmit delays',
  ports: { book: 'originals/Ch10_Networking/tcpnagle.bt' },
  probes: { kprobe: ['tcp_write_xmit'], kretprobe: ['tcp_write_xmit'] },
  output: 'histogram',
  invocations: [{ args: [], ends: 'ctrl-c', needs: KPROBE_PMU }],
  records: () => ({}),
  program,
  options: {},
  examples: [['tcpnagle', 'trace TCP nagle and xmit delays, printed on Ctrl-C']],

  async run({ load, out, json, emit, banner, untilExit }) {
    if (!fs.existsSync(KPROBE_PMU)) throw new ToolError('this kernel has no kprobes (tcp_write_xmit has no tracepoint)');
    const bpf = load({});
    bpf.attachAll();
    banner('Tracing TCP nagle and xmit delays. Hit Ctrl-C to end.');
    await untilExit();
    const slots = Array.from({ length: 64 }, (_, i) => Number(bpf.map<number, bigint>('blocked_us').get(i) ?? 0n));
    const calls = bpf.map<number, bigint>('nagle').entries().map(([flags, n]) => ({ flags: FLAG_NAMES[flags] ?? String(flags), calls: Number(n) }))
      .sort((a, b) => a.calls - b.calls); // bpftrace: smallest first
    if (json) {
      // keys snake_case as docs/json.md wants: "off_cork" for bpftrace's OFF|CORK
      emit.histogram(log2HistJson(bpftraceLog2ToBcc(slots), 'usecs'), { nagle: Object.fromEntries(calls.map(c => [c.flags.toLowerCase().replace('|', '_'), c.calls])) });
      return;
    }
    out.line('');
    out.write(formatBpftraceLog2(slots, 'blocked_us'));
    for (const c of calls) out.line(`@nagle[${c.flags}]: ${c.calls}`);
  },
});
