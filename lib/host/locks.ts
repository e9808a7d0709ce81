// Kernel lock waits as klockstat and mlock print them: the lock's name, the caller of the lock
// function (the first frame of the waiting stack that is not lock machinery), libbpf-tools' times.
import { bpftraceFrame } from '../stacks/index.js';
import type { KernelSymbols } from '../syms/index.js';

/**
 * Frames of the lock implementation and of the tracepoint that fired inside it: skipped, so that the
 * first frame shown is the code that asked for the lock (pipe_write, not __mutex_lock).
 */
const LOCK_MACHINERY = /^(__)?(mutex_|ww_mutex|rt_mutex|rwsem_|down|up_|percpu_down|percpu_rwsem|osq_|__rwsem|rwbase_|sem_|__sem|trace_contention|perf_trace|trace_event|bpf_trace|__bpf_trace|__traceiter)/;

/** A frame: its symbol, libbpf-tools' text (name+0xoff) and bpftrace's (name+off, decimal). */
export interface Frame { name: string; text: string; bpftrace: string }

/** The waiting stack from the caller of the lock outwards, "name+0xoff" as libbpf-tools prints. */
export function lockCaller(ksyms: KernelSymbols, ips: bigint[]): Frame[] {
  const frames = ips.map(ip => {
    const s = ksyms.resolve(ip);
    const bpftrace = bpftraceFrame(ksyms, ip);
    return s ? { name: s.name, text: `${s.name}+0x${s.offset.toString(16)}`, bpftrace } : { name: '', text: 'Unknown', bpftrace };
  });
  const first = frames.findIndex(f => !LOCK_MACHINERY.test(f.name));
  return first < 0 ? frames : frames.slice(first);
}

/** -L: a lock by kernel symbol (where kallsyms lists data) or by 0x address. */
export function lockAddress(ksyms: KernelSymbols, name: string): bigint | undefined {
  const a = ksyms.address(name);
  if (a !== undefined) return a;
  return /^0x[0-9a-f]+$/i.test(name) ? BigInt(name) : undefined;
}

/** A lock's symbol when it is a named global (cgroup_mutex), else "no-ksym" (libbpf-tools). */
export function lockName(ksyms: KernelSymbols, addr: bigint): string {
  const s = ksyms.resolve(addr);
  return s && s.offset === 0 ? s.name : 'no-ksym';
}

/** libbpf-tools' print_time: "%.1f h ", "m ", "s ", "ms", "us", else "%u ns". */
export function formatWaitTime(ns: bigint): string {
  const n = Number(ns);
  for (const [base, unit] of [[1e9 * 3600, 'h '], [1e9 * 60, 'm '], [1e9, 's '], [1e6, 'ms'], [1e3, 'us']] as const) {
    if (n >= base) return `${(n / base).toFixed(1)} ${unit}`;
  }
  return `${n} ns`;
}
