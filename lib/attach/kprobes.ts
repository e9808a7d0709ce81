// Kernel function names as users write them -> names kprobes can attach to on this kernel:
// syscall wrappers (BCC's get_syscall_fnname), compiler suffixes (.isra.0, .constprop.0, .part.0),
// and funccount-style glob patterns, all checked against available_filter_functions (kallsyms where
// tracefs lacks it).
import fs from 'node:fs';
import { tracefsDir } from '../compile/tracepoints.js';

let cached: Set<string> | undefined;

/** Functions kprobes may attach to, once per process. */
export function traceableFunctions(): Set<string> {
  if (cached) return cached;
  const names = new Set<string>();
  try {
    for (const line of fs.readFileSync(`${tracefsDir()}/available_filter_functions`, 'utf8').split('\n')) {
      const sp = line.indexOf(' ');
      const n = sp < 0 ? line : line.slice(0, sp);
      if (n) names.add(n);
    }
  } catch {
    try {
      for (const line of fs.readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
        const [, type, rest] = line.split(' ');
        if (type === 't' || type === 'T') names.add(rest.split('\t')[0]);
      }
    } catch { /* nothing readable */ }
  }
  cached = names;
  return cached;
}

const syscallPrefixes = ['__x64_sys_', '__arm64_sys_', '__s390x_sys_', '__riscv_sys_', '__se_sys_', 'sys_'];
const suffix = /\.(isra|constprop|part|llvm)\.\d+$/;

/** Picks the name kprobes can use for `name` among `available` (exported for tests). */
export function pickKernelFunction(name: string, available: Iterable<string>): string | undefined {
  const set = available instanceof Set ? available as Set<string> : new Set(available);
  if (set.has(name)) return name;
  // syscalls: "openat", "sys_openat" or another arch's wrapper -> this kernel's wrapper
  const base = name.replace(/^(__x64_sys_|__arm64_sys_|__s390x_sys_|__riscv_sys_|__se_sys_|__do_sys_|sys_)/, '');
  for (const p of syscallPrefixes) if (set.has(p + base)) return p + base;
  // compiler clones: the plain name was renamed, e.g. finish_task_switch.isra.0
  const clones = [...set].filter(n => n.startsWith(name + '.') && suffix.test(n) && !n.endsWith('.cold')).sort();
  return clones[0];
}

/** The attachable name for `name`, or an Error saying it is not traceable here. */
export function resolveKernelFunction(name: string): string {
  const picked = pickKernelFunction(name, traceableFunctions());
  if (!picked) throw new Error(`kernel function ${name} is not traceable on this kernel (missing, inlined or notrace)`);
  return picked;
}

/** The first of several names (functions renamed across kernel versions) that exists here. */
export function firstExistingKernelFunction(names: string[]): string | undefined {
  const set = traceableFunctions();
  for (const n of names) {
    const p = pickKernelFunction(n, set);
    if (p) return p;
  }
  return undefined;
}

/** BCC's exclusions: functions kprobes must not or cannot probe. */
export function kprobeBlacklisted(name: string): boolean {
  return /^(__perf|perf_|__SCT__|_kbl_addr_)/.test(name) || name.endsWith('.cold') || /^(bpf_|__bpf_)/.test(name) && /trampoline|dispatcher/.test(name);
}

/** Expands a glob (`vfs_*`, `tcp_*send*`) over `available` (exported for tests). */
export function expandPattern(pattern: string, available: Iterable<string>): string[] {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  const out = new Set<string>();
  for (const n of available) if (re.test(n) && !kprobeBlacklisted(n)) out.add(n);
  return [...out].sort();
}

export function expandKernelFunctions(pattern: string): string[] {
  return expandPattern(pattern, traceableFunctions());
}
