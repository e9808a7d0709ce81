#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// compactsnoop: memory compaction, one line per zone compacted: who compacted (a task in direct
// compaction, kcompactd, or a write to /proc/sys/vm/compact_memory), the node and zone, the order asked
// for, sync or async, the time it took and how it ended. BCC's compactsnoop (its columns, -T -p -d -K).
// BCC takes the zone and order at a raw tracepoint on mm_compaction_suitable (so it misses compaction
// that does not ask that: proactive and manual compaction); here the BTF tracepoints
// mm_compaction_begin/end give the compact_control itself. BCC's -e (FRAGIDX and the watermarks) reads
// fragmentation_index() with a kretprobe: this kernel has none, -e says so.
import { defineTool, opt, ToolError } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';
import { isProbeFrame } from '../../lib/stacks/index.js';
import { frameText, KernelSymbols } from '../../lib/syms/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_call.h>

const volatile u32 targ_tgid = 0;
const volatile bool kernel_stacks = false;

struct start_t { u64 ts; };

struct event {
	u64 ts;
	u64 delta_ns;
	u32 pid;
	u32 tid;
	int nid;
	int order;
	int status;
	int stack_id;
	u32 sync;
	char zone[16];
	char comm[TASK_COMM_LEN];
};

BPFKIT_CALL_MAP(struct start_t, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPF_STACK_TRACE(stack_traces, 1024);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline int compaction_begin(void)
{
	if (targ_tgid && bpfkit_tgid() != targ_tgid)
		return 0;
	struct start_t s = { .ts = bpf_ktime_get_ns() };
	return call_enter(&s);
}

static __always_inline int compaction_end(void *ctx, struct compact_control *cc, bool sync, int status)
{
	struct start_t *s = call_kept();
	if (!s)
		return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (e) {
		struct zone *zone = BPF_CORE_READ(cc, zone);
		e->ts = bpf_ktime_get_ns();
		e->delta_ns = e->ts - s->ts;
		e->pid = bpfkit_tgid();
		e->tid = bpfkit_tid();
		e->nid = BPF_CORE_READ(zone, zone_pgdat, node_id);
		e->order = BPF_CORE_READ(cc, order);
		e->status = status;
		e->sync = sync;
		bpf_probe_read_kernel_str(e->zone, sizeof(e->zone), BPF_CORE_READ(zone, name));
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		e->stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
		ringbuf_submit(events, e);
	}
	call_forget();
	return 0;
}

BTF_TRACEPOINT_PROBE(mm_compaction_begin, begin, compaction_begin(), struct compact_control *cc, unsigned long zone_start, unsigned long zone_end, bool sync)
BTF_TRACEPOINT_PROBE(mm_compaction_end, end, compaction_end(ctx, cc, sync, status), struct compact_control *cc, unsigned long zone_start, unsigned long zone_end, bool sync, int status)
`;

interface Options { timestamp: boolean; pid?: number; duration?: number; kernelStack: boolean; extendedFields: boolean }
interface CompactEvent { ts: bigint; delta_ns: bigint; pid: number; tid: number; nid: number; order: number; status: number; stack_id: number; sync: number; zone: string; comm: string }

/** enum compact_result (include/linux/compaction.h), as BCC names them. */
const STATUS = ['not_suitable_zone', 'skipped', 'deferred', 'no_suitable_page', 'continue', 'complete', 'partial_skipped', 'contended', 'success'];

defineTool<Options>({
  name: 'compactsnoop',
  subsystem: 'mem',
  description: 'Trace memory compaction: each zone compacted, its latency and result',
  ports: { bcc: 'tools/compactsnoop.py' },
  probes: { tp_btf: ['mm_compaction_begin', 'mm_compaction_end'], raw_tp: ['mm_compaction_begin', 'mm_compaction_end'] },
  output: 'event',
  invocations: [{ args: ['-d', '3'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: o => ({ fields: ['ts_ns', 'comm', 'pid', 'tid', 'node', 'zone', 'order', 'mode', 'latency_ms', 'status', ...(o.kernelStack ? ['kernel_stack'] : [])] }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    pid: opt.pid(),
    duration: opt.duration(),
    kernelStack: opt.flag('K', 'output kernel stack trace'),
    extendedFields: opt.flag('e', 'show system memory state (FRAGIDX and watermarks)'),
  },
  examples: [
    ['compactsnoop', 'trace all compact stall'],
    ['compactsnoop -T', 'include timestamps'],
    ['compactsnoop -d 10', 'trace for 10 seconds only'],
    ['compactsnoop -K', 'output kernel stack trace'],
    ['compactsnoop -p 181', 'only trace PID 181'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    if (opts.extendedFields) throw new ToolError('-e reads fragmentation_index() with a kretprobe: this kernel has no kprobes or fentry');
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, kernel_stacks: opts.kernelStack } });
    bpf.attachAll();
    if (json) banner(`Tracing compaction${opts.duration ? ` for ${opts.duration} secs` : ''}... Hit Ctrl-C to end.`);
    else {
      out.line((opts.timestamp ? sprintf('%-14s ', 'TIME(s)') : '') + sprintf('%-14s %-6s %-4s %-12s %-5s %-7s %9s %16s', 'COMM', 'PID', 'NODE', 'ZONE', 'ORDER', 'MODE', 'LAT(ms)', 'STATUS'));
      out.flush();
    }
    let first: bigint | undefined;
    const stream = bpf.events<CompactEvent>('events', 'event', e => {
      first ??= e.ts;
      const zone = `ZONE_${e.zone.toUpperCase()}`;
      const status = STATUS[e.status] ?? String(e.status);
      const mode = e.sync ? 'SYNC' : 'ASYNC';
      const frames = opts.kernelStack && e.stack_id >= 0
        ? bpf.stackIps('stack_traces', e.stack_id).map(ip => frameText(ip, KernelSymbols.load(), undefined, { showOffset: true })) : undefined;
      // without the tracing program's own frames
      const stack = frames?.slice(Math.max(0, frames.findIndex(f => !isProbeFrame(f))));
      if (json) {
        emit.event({ comm: e.comm, pid: e.pid, tid: e.tid, node: e.nid, zone, order: e.order, mode, latency_ms: Number(e.delta_ns) / 1e6, status,
          ...(opts.kernelStack ? { kernel_stack: stack ?? null } : {}) }, { tsNs: e.ts });
        return;
      }
      const time = opts.timestamp ? sprintf('%-14.9f ', Number(e.ts - first) / 1e9) : '';
      out.line(time + sprintf('%-14.14s %-6d %-4d %-12s %-5d %-7s %9.3f %16s', e.comm, e.pid, e.nid, zone, e.order, mode, Number(e.delta_ns) / 1e6, status));
      if (stack) {
        for (const f of stack) out.line(`\t${f}`);
        out.line('');
      }
    });
    await untilExit(opts.duration);
    stream.drain();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`compactsnoop: lost ${lost} events\n`);
  },
});
