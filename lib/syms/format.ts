// BCC-style symbol text ("name+0x1a [module]", "[unknown]") and whole stacks from BPF stack maps.
import { demangle } from './demangle.js';
import { KernelSymbols } from './kallsyms.js';
import { ProcessSymbols } from './process.js';

export interface FormatOptions {
  /** Append "+0x<offset>" (BCC's show_offset). */
  showOffset?: boolean;
  /** Append " [module]": the file's base name, "kernel" for vmlinux (BCC's show_module). */
  showModule?: boolean;
  /** C++ names: 'name' (default) "foo::bar", 'full' "foo::bar(int) const", false as in the symbol table. */
  demangle?: 'name' | 'full' | false;
}

export interface StackOptions extends FormatOptions {
  /** Symbols read earlier (while the process was alive); otherwise ProcessSymbols.forPid(pid). */
  processSymbols?: ProcessSymbols;
  /** Also show the raw address, as "0x7f12... name". */
  showAddress?: boolean;
}

const demangled = new Map<string, string>(); // stacks repeat the same frames: demangle each name once

function displayName(name: string, mode: FormatOptions['demangle']): string {
  if (mode === false || !(name.startsWith('_Z') || name.startsWith('_R'))) return name;
  const key = mode === 'full' ? '+' + name : name;
  let d = demangled.get(key);
  if (d === undefined) {
    d = demangle(name, { params: mode === 'full' });
    if (demangled.size >= 20_000) demangled.clear();
    demangled.set(key, d);
  }
  return d;
}

/** BCC style: "name", "name+0x1a", "name+0x1a [module]"; "[unknown]" when unresolved. */
export function formatSymbol(s: { name: string; offset: number; module?: string } | undefined, addr: bigint, opts: FormatOptions = {}): string {
  if (!s) return '[unknown]';
  let out = displayName(s.name, opts.demangle ?? 'name');
  if (opts.showOffset) out += `+0x${s.offset.toString(16)}`;
  if (opts.showModule && s.module) out += ` [${s.module}]`;
  return out;
}

/**
 * One frame's text: the symbol of `ip` in the kernel (ks) or in a process (ps), formatted; a frame
 * no symbol covers is "[unknown]", with its module when showModule asks for one and a mapping has it.
 */
export function frameText(ip: bigint, ks: KernelSymbols | undefined, ps: ProcessSymbols | undefined, opts: StackOptions = {}): string {
  const s = ks ? ks.resolve(ip) : ps?.resolve(ip);
  let text = formatSymbol(s, ip, opts);
  if (!s && opts.showModule) {
    const mod = ps?.moduleOf(ip);
    if (mod) text += ` [${mod}]`;
  }
  return opts.showAddress ? `0x${ip.toString(16).padStart(16, '0')} ${text}` : text;
}

/**
 * Symbolizes the instruction pointers of one stack (from a BPF_MAP_TYPE_STACK_TRACE value), stopping
 * at the first 0. Kernel stacks use /proc/kallsyms; user stacks the process's mappings (pid).
 */
export function symbolizeStack(ips: readonly bigint[], kind: 'kernel' | 'user', pid?: number, opts: StackOptions = {}): string[] {
  const out: string[] = [];
  const ks = kind === 'kernel' ? KernelSymbols.load() : undefined;
  const ps = kind === 'user' ? opts.processSymbols ?? (pid !== undefined && pid > 0 ? ProcessSymbols.forPid(pid) : undefined) : undefined;
  for (const ip of ips) {
    if (!ip) break;
    out.push(frameText(ip, ks, ps, opts));
  }
  return out;
}

/**
 * A stack of a BPF_STACK_TRACE map as symbolised frames, innermost first: kernel stacks by default,
 * the user stack of `opts.pid` when given; [] for negative ids. `bpf` is a loaded BPF object.
 */
export function stackTrace(bpf: { stackIps(mapName: string, stackId: number): bigint[] }, mapName: string, stackId: number,
  opts: StackOptions & { pid?: number } = {}): string[] {
  return symbolizeStack(bpf.stackIps(mapName, stackId), opts.pid === undefined ? 'kernel' : 'user', opts.pid, opts);
}
