// Reading a probe's arguments in the generated C, per probe kind (trace, argdist; expr.ts uses it to
// rewrite BCC's names): function arguments from pt_regs (kprobes, uprobes; a syscall wrapper's from
// the user's pt_regs it is handed), return values (kretprobe, uretprobe), USDT arguments through
// libbpf's bpf_usdt_arg(), tracepoint fields through `args` (the record codegen's tracepointArgs
// types), and strings with bpf_probe_read_{user,kernel}_str. Values are C expressions; the handler
// codegen generates has `void *ctx`, so every read casts it. Registers are read as signed longs, so
// that `retval < 0` means what it says (BCC's unsigned pt_regs fields never compare below zero), and
// through probe reads (the _CORE forms): clang may merge two direct loads of ctx into one at a
// computed offset, which the verifier refuses ("dereference of modified ctx ptr").
import path from 'node:path';
import { UsageError } from '../cli/options.js';
import type { TracepointField } from '../compile/tracepoints.js';
import { ProbeResolveError, type ResolvedProbe } from './resolve.js';
import type { ProbeSpec } from './spec.js';

/** What an expression may name at one probe. */
export interface ArgContext {
  probe: ResolvedProbe;
  /** A signature's parameters (`p:c:open(char *path, int flags)`), by name. */
  params?: Map<string, SignatureParam>;
  /** A tracepoint's fields (tracefs format), so that a wrong args->name is an error that lists them. */
  tracepointFields?: TracepointField[];
}

export interface SignatureParam {
  name: string;
  type: string;
  /** 1-based position. */
  index: number;
  /** The C expression of its value: the local `paramDeclarations` declares (a probe read nested in an
   *  expression's BPF_CORE_READ would be a nested preserve_access_index, which clang refuses). */
  read: string;
  /** Its register at the function's entry. */
  register: string;
  /** Declared __user (or the probe is in user space): pointers are user addresses. */
  user: boolean;
}

const REGS = '((struct pt_regs *)ctx)';
/** x86-64's six argument registers; bpf_usdt_arg() reads at most 12 USDT arguments. */
export const MAX_FUNCTION_ARGS = 6;
export const MAX_USDT_ARGS = 12;

/** A syscall's entry point (__x64_sys_openat): its arguments are in the pt_regs it is passed. */
function isSyscallWrapper(probe: ResolvedProbe): boolean {
  return (probe.type === 'kprobe' || probe.type === 'kretprobe') && /^__(x64|ia32|arm64|s390x?|riscv)_sys_/.test(probe.function);
}

/** Whether pointers the probe sees are addresses in the traced process (uprobes, USDT). */
export function readsUserMemory(ctx: ArgContext): boolean {
  const t = ctx.probe.type;
  return t === 'uprobe' || t === 'uretprobe' || t === 'usdt';
}

/** How many arguments a USDT probe has (its note's spec: "-4@%edi 8@%rsi" is two). */
export function usdtArgCount(probe: ResolvedProbe): number {
  return probe.type === 'usdt' ? probe.args.trim().split(/\s+/).filter(Boolean).length : 0;
}

/** The C for argN (1-based) at this probe, or why there is none. */
export function argumentRead(ctx: ArgContext, n: number): string | { error: string } {
  const p = ctx.probe;
  switch (p.type) {
    case 'tracepoint':
      return { error: `a tracepoint has fields, not arguments: args->name (tplist -v ${p.label} lists them)` };
    case 'usdt': {
      const count = usdtArgCount(p);
      if (n < 1 || n > count) return { error: `${p.provider}:${p.name} has ${count} argument${count === 1 ? '' : 's'}` };
      return `({ long __arg = 0; bpf_usdt_arg(${REGS}, ${n - 1}, &__arg); __arg; })`;
    }
    case 'kretprobe': case 'uretprobe':
      return { error: `arguments are gone at a function's return: use retval${ctx.params ? ' or $entry(name)' : ''}` };
    case 'kprobe': case 'uprobe':
      if (n < 1 || n > MAX_FUNCTION_ARGS) return { error: `functions have arg1 to arg${MAX_FUNCTION_ARGS} here (register arguments)` };
      return isSyscallWrapper(p) ? `((s64)PT_REGS_PARM${n}_CORE_SYSCALL((struct pt_regs *)PT_REGS_PARM1_CORE(${REGS})))` : `((s64)PT_REGS_PARM${n}_CORE(${REGS}))`;
  }
}

/** The C for retval, or why there is none. */
export function returnValueRead(ctx: ArgContext): string | { error: string } {
  const t = ctx.probe.type;
  if (t === 'kretprobe' || t === 'uretprobe') return `((s64)PT_REGS_RC_CORE(${REGS}))`;
  return { error: 'retval is only for return probes (r::function, r:library:function)' };
}

/** The current task, as BCC's $task. */
export function taskValue(): string {
  return '((struct task_struct *)bpf_get_current_task())';
}

/** base->a->b.c as probe reads: kernel memory through BPF_CORE_READ, user memory through its _USER form. */
export function memberChainRead(ctx: ArgContext, base: string, chain: string[]): string {
  return `${readsUserMemory(ctx) ? 'BPF_CORE_READ_USER' : 'BPF_CORE_READ'}(${base}, ${chain.join(', ')})`;
}

/**
 * A signature's parameters as BCC reads them ("char *path, int flags": the type is up to the last '*',
 * else the last space); throws with the bad part. At a return probe they are only names for $entry.
 */
export function parseSignature(signature: string, probe: ResolvedProbe): Map<string, SignatureParam> {
  const out = new Map<string, SignatureParam>();
  const text = signature.trim();
  if (!text || text === 'void') return out;
  text.split(',').forEach((raw, i) => {
    const param = raw.trim();
    const star = param.lastIndexOf('*');
    const cut = star >= 0 ? star : param.lastIndexOf(' ');
    const type = param.slice(0, cut + 1).trim();
    const name = param.slice(cut + 1).trim();
    if (!type || !/^[A-Za-z_]\w*$/.test(name)) throw new Error(`"${param}": a parameter is a type and a name (char *path)`);
    if (i >= MAX_FUNCTION_ARGS) throw new Error(`"${param}": only ${MAX_FUNCTION_ARGS} register arguments can be read`);
    const index = i + 1;
    const user = /\b__user\b/.test(type) || probe.type === 'uprobe' || probe.type === 'uretprobe';
    const cleanType = type.replace(/\b__user\b/g, '').replace(/\s+/g, ' ').trim();
    const reg = probe.type === 'kprobe' || probe.type === 'kretprobe'
      ? (isSyscallWrapper(probe) ? `PT_REGS_PARM${index}_CORE_SYSCALL((struct pt_regs *)PT_REGS_PARM1_CORE(${REGS}))` : `PT_REGS_PARM${index}_CORE(${REGS})`)
      : `PT_REGS_PARM${index}_CORE(${REGS})`;
    out.set(name, { name, type: cleanType, index, read: name, register: `((${cleanType})${reg})`, user });
  });
  return out;
}

/**
 * Statements copying the NUL-terminated string at `pointer` (a C expression) into the char array
 * `dst`: from user memory for user probes and user pointers, else kernel memory first and user memory
 * when that faults (a kernel function's char * argument may be either; x86-64 keeps them apart).
 */
export function stringRead(ctx: ArgContext, dst: string, pointer: string, user: boolean): string {
  const p = `(const void *)(long)(${pointer})`;
  if (user || readsUserMemory(ctx)) return `bpf_probe_read_user_str(${dst}, sizeof(${dst}), ${p});`;
  return `{\n\tconst void *__str = ${p};\n\tif (bpf_probe_read_kernel_str(${dst}, sizeof(${dst}), __str) < 0)\n\t\tbpf_probe_read_user_str(${dst}, sizeof(${dst}), __str);\n}`;
}

/**
 * args->name of a __data_loc field (a string stored in the record, e.g. sched_process_exec's
 * filename): the address of its bytes, so that "%s" reads it like any other string.
 */
export function dataLocField(fields: TracepointField[] | undefined, name: string): string | undefined {
  const f = fields?.find(x => x.name === name);
  return f && f.decl.startsWith('__data_loc') ? `((char *)args + (args->data_loc_${name} & 0xffff))` : undefined;
}

/** Which kernel or user-space place a target probes (two specs on one place must share one attachment). */
export function probePlace(p: ResolvedProbe): string {
  switch (p.type) {
    case 'kprobe': case 'kretprobe': return `${p.type}:${p.function}+${p.offset ?? 0}`;
    case 'tracepoint': return `t:${p.category}:${p.event}`;
    case 'uprobe': case 'uretprobe': return `${p.type}:${p.binary}:${p.fileOffset}`;
    case 'usdt': return `u:${p.binary}:${p.provider}:${p.name}`;
  }
}

/**
 * The probes to generate for items of several specs (trace's probes, argdist's specifiers): one per
 * place, with the items that probe it. The kernel takes a program once per tracepoint (EEXIST), so two
 * specs on one place share its program, each item's statements in turn. Ids are the probes' indexes.
 */
export function shareProbes<T extends { resolved: ResolvedProbe }>(items: T[]): { probe: ResolvedProbe; members: T[] }[] {
  const out: { probe: ResolvedProbe; members: T[] }[] = [];
  const byPlace = new Map<string, { probe: ResolvedProbe; members: T[] }>();
  for (const item of items) {
    const place = probePlace(item.resolved);
    let g = byPlace.get(place);
    if (!g) {
      g = { probe: { ...item.resolved, id: out.length }, members: [] };
      byPlace.set(place, g);
      out.push(g);
    }
    g.members.push(item);
  }
  return out;
}

/** The locals of a signature's parameters at a function's entry, for the statements of its hit. */
export function paramDeclarations(ctx: ArgContext): string {
  if (!ctx.params || (ctx.probe.type !== 'kprobe' && ctx.probe.type !== 'uprobe')) return '';
  return [...ctx.params.values()].map(p => `${p.type} ${p.name} = ${p.register};`).join('\n');
}

/** Names a spec's targets: resolveProbe here, or the VM lane's stand-in for kernel functions the host cannot probe. */
export type Resolver = (spec: ProbeSpec) => ResolvedProbe[];

/** A spec's targets (trace, argdist): one that matches nothing is a usage error, one line. */
export function resolveTargets(resolve: Resolver, spec: ProbeSpec): ResolvedProbe[] {
  try {
    return resolve(spec);
  } catch (e) {
    if (e instanceof ProbeResolveError) throw new UsageError(e.message);
    throw e;
  }
}

/** Header-only includes (-I): a path as written (relative to here), or a name on the include path. */
export function includeLines(include: string[] | undefined): string[] {
  return (include ?? []).map(h => (h.startsWith('.') || h.startsWith('/') ? path.resolve(h) : h));
}
