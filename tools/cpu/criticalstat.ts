#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// criticalstat: kernel sections that ran longer than -d µs with IRQs (default) or preemption (-p)
// disabled: the task, the section's start and end, and the kernel stack at its end. Port of BCC's
// criticalstat on the preemptirq tracepoints (irq_disable/irq_enable, preempt_disable/preempt_enable).
// Those exist only in kernels built with CONFIG_PREEMPTIRQ_TRACEPOINTS (and, for preemption,
// CONFIG_DEBUG_PREEMPT or CONFIG_PREEMPT_TRACER); there is no substitute, so without them it says so.
import fs from 'node:fs';
import { defineTool, nonNegativeInt, opt, ToolError } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';
import { StackReader } from '../../lib/stacks/index.js';
import { KernelSymbols } from '../../lib/syms/kallsyms.js';

const program = `
#include <bpfkit.h>

const volatile u64 min_ns = 100000;

struct section {
	u64 ts;
	u64 start_ip;
	u64 start_parent_ip;
};

struct event {
	u64 ts;
	u64 duration_ns;
	u64 start_ip;
	u64 start_parent_ip;
	u64 end_ip;
	u64 end_parent_ip;
	int stack_id;
	u32 pid;
	u32 tid;
	u32 cpu;
	char comm[16];
};

BPF_PERCPU_ARRAY(open_section, struct section, 1);
BPF_STACK_TRACE(stack_traces, 1024);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

/* The outermost disable of a CPU opens the section; nested ones find it open. */
static __always_inline int section_start(u64 ip, u64 parent_ip)
{
	u32 zero = 0;
	struct section *s = bpf_map_lookup_elem(&open_section, &zero);
	if (!s || s->ts)
		return 0;
	s->ts = bpf_ktime_get_ns();
	s->start_ip = ip;
	s->start_parent_ip = parent_ip;
	return 0;
}

static __always_inline int section_end(void *ctx, u64 ip, u64 parent_ip)
{
	u32 zero = 0;
	struct section *s = bpf_map_lookup_elem(&open_section, &zero);
	if (!s || !s->ts)
		return 0;
	u64 now = bpf_ktime_get_ns(), delta = now - s->ts;
	u64 start_ip = s->start_ip, start_parent_ip = s->start_parent_ip;
	s->ts = 0;
	if (delta < min_ns)
		return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	u64 id = bpf_get_current_pid_tgid();
	e->ts = now;
	e->duration_ns = delta;
	e->start_ip = start_ip;
	e->start_parent_ip = start_parent_ip;
	e->end_ip = ip;
	e->end_parent_ip = parent_ip;
	e->stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	e->pid = id >> 32;
	e->tid = (u32)id;
	e->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
	return 0;
}

/* raw tracepoint arguments of the preemptirq events: (unsigned long ip, unsigned long parent_ip) */
SEC("raw_tp/irq_disable")
int BPF_PROG(irq_disable, unsigned long ip, unsigned long parent_ip) { return section_start(ip, parent_ip); }
SEC("raw_tp/irq_enable")
int BPF_PROG(irq_enable, unsigned long ip, unsigned long parent_ip) { return section_end(ctx, ip, parent_ip); }
SEC("raw_tp/preempt_disable")
int BPF_PROG(preempt_disable, unsigned long ip, unsigned long parent_ip) { return section_start(ip, parent_ip); }
SEC("raw_tp/preempt_enable")
int BPF_PROG(preempt_enable, unsigned long ip, unsigned long parent_ip) { return section_end(ctx, ip, parent_ip); }
`;

interface Options { preemptoff: boolean; irqoff: boolean; duration: string }
interface SectionEvent {
  ts: bigint; duration_ns: bigint; start_ip: bigint; start_parent_ip: bigint; end_ip: bigint; end_parent_ip: bigint;
  stack_id: number; pid: number; tid: number; cpu: number; comm: string;
}

const TRACEFS = ['/sys/kernel/tracing/events/preemptirq', '/sys/kernel/debug/tracing/events/preemptirq'];

/** The preemptirq events this kernel has, by name (empty: not built in). */
function preemptirqEvents(): Set<string> {
  for (const dir of TRACEFS) {
    try {
      return new Set(fs.readdirSync(dir));
    } catch { /* try the next mount point */ }
  }
  return new Set();
}

defineTool<Options>({
  name: 'criticalstat',
  subsystem: 'cpu',
  description: 'Trace long critical sections (IRQs or preemption disabled)',
  ports: { bcc: 'tools/criticalstat.py' },
  probes: { raw_tp: ['irq_disable', 'irq_enable', 'preempt_disable', 'preempt_enable'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c', needs: '/sys/kernel/tracing/events/preemptirq' }],
  records: () => ({ fields: ['ts_ns', 'comm', 'pid', 'tid', 'cpu', 'duration_us', 'section_start', 'section_end', 'kernel_stack'] }),
  program,
  options: {
    preemptoff: opt.flag('p', 'Find long sections where preemption was off'),
    irqoff: opt.flag('i', 'Find long sections where IRQ was off'),
    duration: { alias: 'd', type: 'string', default: '100', describe: 'Duration in uS (microseconds) below which we filter', coerce: nonNegativeInt('duration (us)') },
  },
  examples: [
    ['criticalstat', 'find sections with IRQs disabled longer than 100 us'],
    ['criticalstat -p', 'find sections with preemption disabled longer than 100 us'],
    ['criticalstat -d 500', 'find sections with IRQs disabled longer than 500 us'],
  ],
  validate: o => (o.preemptoff && o.irqoff ? 'use only one of -p and -i' : undefined),

  async run({ opts, load, out, json, emit, untilExit }) {
    const [disable, enable] = opts.preemptoff ? ['preempt_disable', 'preempt_enable'] : ['irq_disable', 'irq_enable'];
    const have = preemptirqEvents();
    if (!have.has(disable) || !have.has(enable)) {
      throw new ToolError(`this kernel has no preemptirq:${disable}/${enable} tracepoints (CONFIG_PREEMPTIRQ_TRACEPOINTS${opts.preemptoff ? ' with CONFIG_DEBUG_PREEMPT' : ''})`);
    }
    const unused = opts.preemptoff ? ['irq_disable', 'irq_enable'] : ['preempt_disable', 'preempt_enable'];
    const bpf = load({ rodata: { min_ns: BigInt(Number(opts.duration) * 1000) }, disable: unused });
    bpf.attachAll();
    const stacks = new StackReader(bpf, { user: false });
    const ksyms = KernelSymbols.load();
    const name = (ip: bigint) => ksyms.resolve(ip)?.name ?? `0x${ip.toString(16)}`;
    process.stderr.write(`Finding critical section with ${opts.preemptoff ? 'preempt' : 'IRQ'} disabled for > ${opts.duration}us\n`);
    const stream = bpf.events<SectionEvent>('events', 'event', e => {
      const frames = stacks.frames('kernel', e.stack_id, e.pid) ?? [];
      const start = `${name(e.start_ip)} -> ${name(e.start_parent_ip)}`;
      const end = `${name(e.end_ip)} -> ${name(e.end_parent_ip)}`;
      if (json) {
        emit.event({ comm: e.comm, pid: e.pid, tid: e.tid, cpu: e.cpu, duration_us: Number(e.duration_ns) / 1000, section_start: start, section_end: end, kernel_stack: frames }, { tsNs: e.ts });
        return;
      }
      out.line('===================================');
      out.line(sprintf('TASK: %s (pid %5d tid %5d) Total Time: %-9.3fus', e.comm, e.pid, e.tid, Number(e.duration_ns) / 1000));
      out.line('');
      out.line(`Section start: ${start}`);
      out.line(`Section end:   ${end}`);
      for (const f of frames) out.line(f);
      out.line('===================================');
      out.line('');
    });
    await untilExit();
    stream.drain();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`criticalstat: lost ${lost} events\n`);
  },
});
