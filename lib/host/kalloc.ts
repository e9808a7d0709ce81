// The kernel allocation tools' table (kmem, kpages; bpf-c/include/bpfkit_kalloc.h): entries by
// (stack, PID, comm) read into stacks with their symbolised frames.
import type { BPF } from '../bpf.js';
import { intervalCount, type ToolContext } from '../cli/index.js';
import { bpftraceKey, strftimeHMS } from '../output/index.js';
import { bpftraceFrame } from '../stacks/index.js';
import { KernelSymbols } from '../syms/index.js';

export interface AllocStack { pid: number; comm: string; frames: string[] | null; count: number; total: number }

interface AllocKey { stack_id: bigint; pid: number; comm: string }
interface AllocVal { count: bigint; total: bigint }

/** The allocations counted so far (drained: the next read starts from zero), frames as "name+0xoff". */
export function readAllocStacks(bpf: BPF, ksyms: KernelSymbols, depth = Infinity): AllocStack[] {
  return bpf.map<AllocKey, AllocVal>('allocs').drain().map(([k, v]) => {
    const id = Number(k.stack_id);
    const frames = id < 0 ? null : bpf.stackIps('alloc_stacks', id).slice(0, depth).map(ip => bpftraceFrame(ksyms, ip));
    return { pid: k.pid, comm: k.comm, frames, count: Number(v.count), total: Number(v.total) };
  });
}

/** bpftrace's keys are the stack and the comm: entries of several PIDs of one name add up. */
export function byStackAndComm(stacks: AllocStack[]): AllocStack[] {
  const merged = new Map<string, AllocStack>();
  for (const s of stacks) {
    const k = `${s.comm}\0${s.frames?.join(';') ?? ''}`;
    const m = merged.get(k);
    if (m) {
      m.count += s.count;
      m.total += s.total;
    } else merged.set(k, { ...s });
  }
  return [...merged.values()];
}

export interface AllocToolOptions {
  banner: string;
  /** Frames kept per stack (kmem: bpftrace's kstack(5)). */
  depth?: number;
  /** The JSON stacks record's value field ("bytes", "count") and each stack's fields. */
  valueField: string;
  fields(s: AllocStack): Record<string, unknown>;
  /** What text ranks by (bpftrace prints smallest first) and one entry's line after its key. */
  rank(s: AllocStack): number;
  line(key: string, s: AllocStack): string;
}

/** The run() of kmem and kpages: [interval] [count], -p, their stacks printed bpftrace's way. */
export function allocStacksRun(o: AllocToolOptions) {
  return async ({ opts, load, out, json, emit, banner, intervals }: ToolContext<{ pid?: number; interval?: string; count?: string }>) => {
    const { interval, count } = intervalCount(opts);
    const ksyms = KernelSymbols.load();
    const bpf = load({ rodata: { filter_pid: opts.pid ?? 0 } });
    bpf.attachAll();
    banner(o.banner);
    await intervals(interval, count, (_last, seconds) => {
      const stacks = readAllocStacks(bpf, ksyms, o.depth);
      if (json) {
        stacks.sort((a, b) => o.rank(b) - o.rank(a));
        emit.stacks(seconds, o.valueField, stacks.map(s => ({ pid: s.pid, comm: s.comm, kernel_stack: s.frames, ...o.fields(s) })),
          { missed_stacks: stacks.filter(s => s.frames === null).length });
        return;
      }
      out.line('');
      if (interval < 99999999) out.line(strftimeHMS());
      for (const s of byStackAndComm(stacks).sort((a, b) => o.rank(a) - o.rank(b))) {
        out.line(o.line(bpftraceKey([s.frames ?? ['[Missed Kernel Stack]'], s.comm]), s));
      }
    });
  };
}
