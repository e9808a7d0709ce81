// The kernel allocation tools' table (kmem, kpages; bpf-c/include/bpfkit_kalloc.h): entries by
// (stack, PID, comm) read into stacks with their symbolised frames.
import type { BPF } from '../bpf.js';
import type { KernelSymbols } from '../syms/index.js';

export interface AllocStack { pid: number; comm: string; frames: string[] | null; count: number; total: number }

interface AllocKey { stack_id: bigint; pid: number; comm: string }
interface AllocVal { count: bigint; total: bigint }

/** The allocations counted so far (drained: the next read starts from zero), frames as "name+0xoff". */
export function readAllocStacks(bpf: BPF, ksyms: KernelSymbols, depth = Infinity): AllocStack[] {
  return bpf.map<AllocKey, AllocVal>('allocs').drain().map(([k, v]) => {
    const id = Number(k.stack_id);
    const frames = id < 0 ? null : bpf.stackIps('alloc_stacks', id).slice(0, depth).map(ip => {
      const s = ksyms.resolve(ip);
      return s ? `${s.name}+${s.offset}` : `0x${ip.toString(16)}`;
    });
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
