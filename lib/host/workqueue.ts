// Work functions by name: the kernel function a work item runs (the workqueue tracepoints' `function`
// field) is a text symbol, so kallsyms has it whatever CONFIG_KALLSYMS_ALL.
import { KernelSymbols } from '../syms/index.js';

/** The address of a kernel function (a work function for the workqueue tools' -f), or undefined. */
export function workFunctionAddress(name: string): bigint | undefined {
  return KernelSymbols.load().address(name);
}

/** A work function's name from its address, as bpftrace's ksym(): the symbol, or the hex address. */
export function workFunctionName(addr: bigint): string {
  const s = KernelSymbols.load().resolve(addr);
  return s && s.offset === 0 ? s.name : `0x${addr.toString(16)}`;
}
