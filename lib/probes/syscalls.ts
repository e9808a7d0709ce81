// System call numbers of syscall tracepoints, for counting them at the raw sys_enter/sys_exit tracepoints
// with one program and one link (each classic tracepoint's perf event costs ~80 ms to close in the kernel,
// one after another: 360 of them kept a tool ~30 s at exit). The table is lib/host/syscalls.ts' (uapi
// names); the tracepoints name a few syscalls after their SYSCALL_DEFINE (stat is newstat, ...).
import { syscallNumber as uapiSyscallNumber } from '../host/syscalls.js';

/** The tracepoint's name where it differs from the syscall table's (x86-64). */
const TRACEPOINT_NAMES: Record<string, string> = {
  stat: 'newstat', fstat: 'newfstat', lstat: 'newlstat', uname: 'newuname', umount2: 'umount', sendfile: 'sendfile64',
};
const UAPI_NAMES = new Map(Object.entries(TRACEPOINT_NAMES).map(([uapi, tp]) => [tp, uapi]));

/**
 * Syscall tracepoint name ("openat", as in sys_enter_openat) -> number on this machine, or undefined
 * where it is not known (then the tracepoint is attached as it is).
 */
export function syscallNumber(tracepointName: string): number | undefined {
  const uapi = process.arch === 'x64' ? UAPI_NAMES.get(tracepointName) ?? tracepointName : tracepointName;
  if (process.arch === 'x64' && TRACEPOINT_NAMES[tracepointName]) return undefined; // "stat" is no tracepoint's name
  const nr = uapiSyscallNumber(uapi);
  return nr !== undefined && nr <= MAX_SYSCALL_NR ? nr : undefined;
}

/** The highest number known, for the size of the BPF side's lookup table. */
export const MAX_SYSCALL_NR = 511;
