#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// skbdrop: sk_buff drops counted by kernel stack and drop reason, printed at Ctrl-C (or the end of the
// duration). Port of the book's skbdrop.bt (BPF Performance Tools, chapter 10): its kstack(8) counts, in
// bpftrace's format, with the reason this kernel's skb:kfree_skb gives (its enum skb_drop_reason name)
// in the key. bpfkit adds --netns-id (the namespace of the skb's device, or of its socket) and [duration];
// the book's nstat lines are not printed (`nstat` itself shows them).
import { defineTool, durationSeconds, opt } from '../../lib/cli/index.js';
import { dropReasonNames } from '../../lib/host/net.js';
import { bpftraceKey } from '../../lib/output/index.js';
import { StackReader } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit.h>

#define SKB_CONSUMED 1   /* enum skb_drop_reason: 0 and 1 are no drops */

const volatile u32 targ_netns = 0;

struct drop_key {
	s32 stack_id;
	u32 reason;
};

/* The book's kstack(8): the kernel walks no deeper than the map's frames (and distinct keys are distinct 8-frame stacks) */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 2048);
	__uint(key_size, sizeof(u32));
	__uint(value_size, 8 * sizeof(u64));
} stack_traces SEC(".maps");
BPF_HASH(drops, struct drop_key, u64, 2048);

/* The network namespace an skb is in: its device's (a received or sent packet), else its socket's. */
static __always_inline u32 skb_netns(struct sk_buff *skb)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	if (dev)
		return BPF_CORE_READ(dev, nd_net.net, ns.inum);
	struct sock *sk = BPF_CORE_READ(skb, sk);
	return sk ? BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) : 0;
}

TRACEPOINT_PROBE(skb, kfree_skb)
{
	if (args->reason <= SKB_CONSUMED)
		return 0;
	if (targ_netns && skb_netns((struct sk_buff *)args->skbaddr) != targ_netns)
		return 0;
	struct drop_key key = { .stack_id = bpf_get_stackid(ctx, &stack_traces, 0), .reason = args->reason };
	map_increment(drops, key);
	return 0;
}
`;

interface Options {
  'netns-id'?: number;
  duration?: string;
}

interface DropKey { stack_id: number; reason: number }

defineTool<Options>({
  name: 'skbdrop',
  subsystem: 'net',
  description: 'Count sk_buff drops by kernel stack and drop reason',
  ports: { book: 'originals/Ch10_Networking/skbdrop.bt' },
  probes: { tracepoint: ['skb/kfree_skb'] },
  output: 'stacks',
  invocations: [{ args: ['2'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['pid', 'comm', 'kernel_stack', 'reason', 'reason_code', 'count'] }),
  program,
  options: {
    'netns-id': opt.int(undefined, 'count drops in this network namespace only (its inode number, as ls -Li /proc/PID/ns/net)', 'netns id'),
  },
  positional: '[duration]',
  examples: [
    ['skbdrop', 'count sk_buff drops by stack and reason until Ctrl-C'],
    ['skbdrop 10', 'for 10 seconds'],
    ['skbdrop --netns-id 4026532281', 'in that network namespace only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const started = process.hrtime.bigint();
    const bpf = load({ rodata: { targ_netns: opts['netns-id'] ?? 0 } });
    bpf.attachAll();
    const reasons = dropReasonNames();
    const stacks = new StackReader(bpf, { user: false });
    banner('Tracing unusual skb drop stacks. Hit Ctrl-C to end.');
    await untilExit(durationSeconds(opts.duration));
    const seconds = Math.max(1, Math.round(Number(process.hrtime.bigint() - started) / 1e6)) / 1000;
    const rows = bpf.map<DropKey, bigint>('drops').entries().map(([k, n]) => ({
      frames: stacks.frames('kernel', k.stack_id, 0) ?? null,
      reason: reasons.get(k.reason) ?? `UNKNOWN_${k.reason}`, code: k.reason, count: Number(n),
    }));
    if (json) {
      rows.sort((a, b) => b.count - a.count);
      const missed = rows.filter(r => r.frames === null).length;
      emit.stacks(seconds, 'count', rows.map(r => ({ pid: 0, comm: '', kernel_stack: r.frames, reason: r.reason, reason_code: r.code, count: r.count })),
        { missed_stacks: missed });
      return;
    }
    // bpftrace prints a count map smallest first
    rows.sort((a, b) => a.count - b.count);
    out.line('');
    for (const r of rows) out.line(`@[${bpftraceKey([r.frames ?? ['[Missed Kernel Stack]'], r.reason])}]: ${r.count}`);
  },
});
