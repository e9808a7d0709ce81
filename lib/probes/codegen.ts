// The one code generator of the generic tools: resolved probes -> a BPF C program with one program per
// probe kind, every program handing the probe's id (the target's index) to the tool's C, plus the
// attach step that puts each target under its id. A tool writes only what happens at a hit:
//
//   const gen = generateProgram(probes, {
//     prelude: 'BPF_PERCPU_ARRAY(counts, u64, BPFKIT_NPROBES);',
//     onHit: 'map_increment(counts, probe_id);',            // `ctx` and `u32 probe_id` in scope
//   });
//   const bpf = load({ text: gen.text, rodata: gen.rodata({ pid, cpu }) });
//   attachProbes(bpf, gen, { pid });
//
// How ids reach the programs: classic tracepoints, kprobes (kprobe.multi, or one kprobe per function
// where the kernel has no multi links), uprobes and USDT share one program per kind and read the id
// from the attach cookie (Linux 5.15+); syscall tracepoints are counted at raw_tp/sys_enter and
// raw_tp/sys_exit through a syscall-number -> id map, which attaches 360 syscalls with two links and
// detaches them at once (a classic tracepoint's perf event costs ~80 ms to close, one after another).
// With `fentry`, a kernel function named exactly gets its own fentry (fexit) program with a kprobe
// (kretprobe) alternative, and the library keeps the one this kernel runs.
// Additions for other tools: `onHit` may be per probe (a switch on the id, with `args` typed for
// tracepoints when `tracepointArgs` is set); `onReturn` adds a return program for every function target
// under the same id (entry/return pairs, funclatency); stacks are bpf_get_stackid(ctx, ...) in onHit.
import { kindFeatureName, kindSupported } from '../attach/features.js';
import type { BPF } from '../bpf.js';
import { readTracepointFormat, tracepointStruct } from '../compile/tracepoints.js';
import type { ResolvedProbe, TracepointTarget } from './resolve.js';
import { MAX_SYSCALL_NR, syscallNumber } from './syscalls.js';

export interface CodegenOptions {
  /** C after the includes, before the programs: maps, globals, helpers. BPFKIT_NPROBES is defined there. */
  prelude?: string;
  /**
   * C statements run at every hit of an entry or event, with `void *ctx` (the program's context:
   * struct pt_regs * for kprobes, uprobes and USDT; the record for tracepoints) and `u32 probe_id`.
   * A function gives each probe its own statements.
   */
  onHit: string | ((probe: ResolvedProbe) => string);
  /** Statements run at the return of every function target (kretprobe/uretprobe), with ctx and probe_id. */
  onReturn?: string | ((probe: ResolvedProbe) => string);
  /**
   * Per-probe statements read tracepoint fields through `args` (struct tracepoint__cat__event *):
   * syscall tracepoints are then attached as themselves, not at raw sys_enter/sys_exit.
   */
  tracepointArgs?: boolean;
  /** Extra includes (e.g. "bpf/usdt.bpf.h" is added by itself when there are USDT probes). */
  includes?: string[];
  /**
   * A kernel function named exactly (no pattern, no offset) gets its own fentry program (fexit for a
   * return) with a kprobe alternative: cheaper where the kernel has BPF trampolines. `ctx` then is
   * fentry's argument array or kprobe's pt_regs, whichever loaded: for bodies that do not read it.
   */
  fentry?: boolean;
}

/** How one target is attached: shown by -v, and what attachProbes does. */
export type AttachMethod = 'raw syscall' | 'tracepoint' | 'kprobe' | 'kretprobe' | 'fentry' | 'fexit' | 'uprobe' | 'uretprobe' | 'usdt';

export interface GeneratedProgram {
  /** The C program (what -D prints). */
  text: string;
  probes: ResolvedProbe[];
  /** Each probe's way in, by id. */
  methods: AttachMethod[];
  /** The programs the text defines, by the method they serve. */
  programs: Partial<Record<AttachMethod | 'raw syscall exit' | 'kretprobe pair' | 'uretprobe pair', string>>;
  /** fentry/fexit methods: each probe's programs, the trampoline one first and its kprobe alternative. */
  perFunction: Map<number, string[]>;
  /** Syscall tracepoints counted at the raw tracepoints: syscall number -> probe id, for entries and exits. */
  syscallIds: { enter: Map<number, number>; exit: Map<number, number> };
  /** The const volatile globals to set before load: the process (-p) and CPU (-c/-C) filters. */
  rodata(filter?: { pid?: number; cpu?: number }): Record<string, unknown>;
}

const PROGRAM = {
  sysEnter: 'bpfkit_sys_enter', sysExit: 'bpfkit_sys_exit', tracepoint: 'bpfkit_tracepoint',
  kprobe: 'bpfkit_kprobe', kprobeOffset: 'bpfkit_kprobe_at', kretprobe: 'bpfkit_kretprobe',
  uprobe: 'bpfkit_uprobe', uretprobe: 'bpfkit_uretprobe', usdt: 'bpfkit_usdt',
  kretPair: 'bpfkit_kretprobe_pair', uretPair: 'bpfkit_uretprobe_pair',
};
const SYSCALL_MAP = { enter: 'bpfkit_sys_enter_ids', exit: 'bpfkit_sys_exit_ids' };

/** Which syscall tracepoint this is, when it can be counted at the raw tracepoints here. */
function rawSyscall(t: TracepointTarget): { dir: 'enter' | 'exit'; nr: number } | undefined {
  if (t.category !== 'syscalls' || process.arch !== 'x64') return undefined;
  const m = /^sys_(enter|exit)_(\w+)$/.exec(t.event);
  const nr = m ? syscallNumber(m[2]!) : undefined;
  return m && nr !== undefined ? { dir: m[1] as 'enter' | 'exit', nr } : undefined;
}

function methodOf(p: ResolvedProbe, opts: CodegenOptions): AttachMethod {
  if (p.type === 'tracepoint') return !opts.tracepointArgs && rawSyscall(p) ? 'raw syscall' : 'tracepoint';
  if ((p.type === 'kprobe' || p.type === 'kretprobe') && opts.fentry && !p.spec.wildcard && !p.offset) return p.type === 'kprobe' ? 'fentry' : 'fexit';
  return p.type;
}

/** Generates the program for these probes (ids are their indexes in `probes`). */
export function generateProgram(probes: ResolvedProbe[], opts: CodegenOptions): GeneratedProgram {
  probes.forEach((p, i) => {
    if (p.id !== i) throw new Error(`probe ${p.label} has id ${p.id}, not its index ${i}`);
  });
  const methods = probes.map(p => methodOf(p, opts));
  const syscallIds = { enter: new Map<number, number>(), exit: new Map<number, number>() };
  probes.forEach((p, i) => {
    if (methods[i] !== 'raw syscall') return;
    const s = rawSyscall(p as TracepointTarget)!;
    const ids = syscallIds[s.dir];
    // two tracepoint names for one number would count each other's calls: attach those as they are
    if (ids.has(s.nr)) {
      methods[ids.get(s.nr)!] = 'tracepoint';
      methods[i] = 'tracepoint';
      ids.delete(s.nr);
    } else ids.set(s.nr, i);
  });
  const has = (m: AttachMethod) => methods.includes(m);
  const programs: GeneratedProgram['programs'] = {};
  const c: string[] = [];
  c.push('#include <bpfkit.h>');
  if (has('usdt')) c.push('#include <bpf/usdt.bpf.h>');
  for (const inc of opts.includes ?? []) c.push(`#include <${inc}>`);
  c.push('', `#define BPFKIT_NPROBES ${Math.max(1, probes.length)}`, '', '/* -p PID, -c CPU: only this process, only this CPU */',
    'const volatile u32 targ_tgid = 0;', 'const volatile s32 targ_cpu = -1;', '');
  if (opts.tracepointArgs) {
    const seen = new Set<string>();
    for (const p of probes) {
      if (p.type !== 'tracepoint' || seen.has(p.label)) continue;
      seen.add(p.label);
      c.push(tracepointStruct(p.category, p.event, readTracepointFormat(p.category, p.event)).trimEnd());
    }
    if (seen.size) c.push('');
  }
  if (opts.prelude) c.push(opts.prelude.trim(), '');
  c.push(handler('bpfkit_on_hit', probes, opts.onHit, opts.tracepointArgs));
  if (opts.onReturn !== undefined) c.push(handler('bpfkit_on_return', probes, opts.onReturn, false));

  if (has('raw syscall')) {
    const size = MAX_SYSCALL_NR + 1;
    // TS_COMPAT: a 32-bit task's syscall numbers are another table's, and the syscall tracepoints skip
    // them too. Minimal CO-RE flavours of the two structs: vmlinux.h's task_struct would put all its
    // types in the object's debug info (~1.2 s more to compile)
    c.push(`struct thread_info___bpfkit { u32 status; } __attribute__((preserve_access_index));
struct task_struct___bpfkit { struct thread_info___bpfkit thread_info; } __attribute__((preserve_access_index));
`);
    const compat = `	struct task_struct___bpfkit *task = (void *)bpf_get_current_task();
	if (bpf_core_field_exists(task->thread_info.status) && (BPF_CORE_READ(task, thread_info.status) & 0x0002))
		return 0;`;
    if (syscallIds.enter.size) {
      programs['raw syscall'] = PROGRAM.sysEnter;
      c.push(`/* syscall number -> probe id + 1, for the syscall tracepoints counted at raw sys_enter */
BPF_ARRAY(${SYSCALL_MAP.enter}, u32, ${size});

SEC("raw_tp/sys_enter")
int ${PROGRAM.sysEnter}(struct bpf_raw_tracepoint_args *ctx)
{
	u32 nr = ctx->args[1];
	u32 *id = bpf_map_lookup_elem(&${SYSCALL_MAP.enter}, &nr);
	if (!id || !*id)
		return 0;
${compat}
	return bpfkit_on_hit(ctx, *id - 1);
}
`);
    }
    if (syscallIds.exit.size) {
      programs['raw syscall exit'] = PROGRAM.sysExit;
      c.push(`BPF_ARRAY(${SYSCALL_MAP.exit}, u32, ${size});

SEC("raw_tp/sys_exit")
int ${PROGRAM.sysExit}(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	u32 nr = BPF_CORE_READ(regs, orig_ax);
	u32 *id = bpf_map_lookup_elem(&${SYSCALL_MAP.exit}, &nr);
	if (!id || !*id)
		return 0;
${compat}
	return bpfkit_on_hit(ctx, *id - 1);
}
`);
    }
  }
  if (has('tracepoint')) {
    programs.tracepoint = PROGRAM.tracepoint;
    c.push(`SEC("tracepoint")
int ${PROGRAM.tracepoint}(void *ctx)
{
	return bpfkit_on_hit(ctx, bpf_get_attach_cookie(ctx));
}
`);
  }
  const kprobes = probes.filter((p, i) => methods[i] === 'kprobe');
  if (kprobes.some(p => p.type === 'kprobe' && !p.offset)) {
    programs.kprobe = PROGRAM.kprobe;
    c.push(cookieProgram('kprobe.multi', PROGRAM.kprobe, 'bpfkit_on_hit'));
  }
  if (kprobes.some(p => p.type === 'kprobe' && p.offset)) c.push(cookieProgram('kprobe', PROGRAM.kprobeOffset, 'bpfkit_on_hit'));
  if (has('kretprobe')) {
    programs.kretprobe = PROGRAM.kretprobe;
    c.push(cookieProgram('kretprobe.multi', PROGRAM.kretprobe, opts.onReturn !== undefined ? 'bpfkit_on_return' : 'bpfkit_on_hit'));
  }
  if (has('uprobe')) {
    programs.uprobe = PROGRAM.uprobe;
    c.push(cookieProgram('uprobe', PROGRAM.uprobe, 'bpfkit_on_hit'));
  }
  if (has('uretprobe')) {
    programs.uretprobe = PROGRAM.uretprobe;
    c.push(cookieProgram('uretprobe', PROGRAM.uretprobe, opts.onReturn !== undefined ? 'bpfkit_on_return' : 'bpfkit_on_hit'));
  }
  if (opts.onReturn !== undefined && kprobes.length) {
    programs['kretprobe pair'] = PROGRAM.kretPair;
    c.push(cookieProgram('kretprobe.multi', PROGRAM.kretPair, 'bpfkit_on_return'));
  }
  if (opts.onReturn !== undefined && has('uprobe')) {
    programs['uretprobe pair'] = PROGRAM.uretPair;
    c.push(cookieProgram('uretprobe', PROGRAM.uretPair, 'bpfkit_on_return'));
  }
  const perFunction = new Map<number, string[]>();
  probes.forEach((p, i) => {
    if ((methods[i] !== 'fentry' && methods[i] !== 'fexit') || (p.type !== 'kprobe' && p.type !== 'kretprobe')) return;
    const names: string[] = [];
    const pair = (trampoline: 'fentry' | 'fexit', call: string) => {
      const kprobe = trampoline === 'fentry' ? 'kprobe' : 'kretprobe';
      const macro = trampoline === 'fentry' ? 'BPF_KPROBE' : 'BPF_KRETPROBE';
      names.push(`bpfkit_${trampoline}_${p.id}`, `bpfkit_${kprobe}_${p.id}`);
      c.push(`/* ${p.label}: ${trampoline}, else ${kprobe} */
SEC("${trampoline}/${p.function}") int BPF_PROG(bpfkit_${trampoline}_${p.id}) { return ${call}(ctx, ${p.id}); }
SEC("${kprobe}/${p.function}") int ${macro}(bpfkit_${kprobe}_${p.id}) { return ${call}(ctx, ${p.id}); }
`);
    };
    if (p.type === 'kprobe') {
      pair('fentry', 'bpfkit_on_hit');
      if (opts.onReturn !== undefined) pair('fexit', 'bpfkit_on_return');
    } else pair('fexit', opts.onReturn !== undefined ? 'bpfkit_on_return' : 'bpfkit_on_hit');
    perFunction.set(p.id, names);
  });
  if (has('usdt')) {
    programs.usdt = PROGRAM.usdt;
    c.push(`SEC("usdt")
int ${PROGRAM.usdt}(struct pt_regs *ctx)
{
	return bpfkit_on_hit(ctx, bpf_usdt_cookie(ctx));
}
`);
  }
  return {
    text: c.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n',
    probes, methods, programs, perFunction, syscallIds,
    rodata: (filter = {}) => ({ targ_tgid: filter.pid ?? 0, targ_cpu: filter.cpu ?? -1 }),
  };
}

/** The static function a hit lands in: the process filter, then the tool's statements (one set, or one per probe). */
function handler(name: string, probes: ResolvedProbe[], body: string | ((p: ResolvedProbe) => string), tracepointArgs?: boolean): string {
  const filter = '\tif (targ_tgid && bpfkit_tgid() != targ_tgid)\n\t\treturn 0;\n' +
    '\tif (targ_cpu >= 0 && bpf_get_smp_processor_id() != (u32)targ_cpu)\n\t\treturn 0;\n';
  if (typeof body === 'string') return `static __always_inline int ${name}(void *ctx, u32 probe_id)\n{\n${filter}\t{\n${indent(body, 2)}\n\t}\n\treturn 0;\n}\n`;
  const cases = probes.map(p => {
    const args = tracepointArgs && p.type === 'tracepoint' ? `\t\tstruct tracepoint__${p.category}__${p.event} *args = ctx;\n` : '';
    return `\tcase ${p.id}: { /* ${p.label} */\n${args}${indent(body(p), 2)}\n\t\tbreak;\n\t}`;
  });
  return `static __always_inline int ${name}(void *ctx, u32 probe_id)\n{\n${filter}\tswitch (probe_id) {\n${cases.join('\n')}\n\t}\n\treturn 0;\n}\n`;
}

function cookieProgram(section: string, name: string, call: string): string {
  return `SEC("${section}")\nint ${name}(struct pt_regs *ctx)\n{\n\treturn ${call}(ctx, bpf_get_attach_cookie(ctx));\n}\n`;
}

function indent(text: string, tabs: number): string {
  const pad = '\t'.repeat(tabs);
  return text.trim().split('\n').map(l => (l.trim() ? pad + l.replace(/^\t+/, '') : '')).join('\n');
}

/**
 * Why these probes cannot run on this kernel, in one line ("kernel functions need kprobes: this
 * kernel was built without CONFIG_KPROBES"), or undefined.
 */
export function unsupportedReason(gen: GeneratedProgram): string | undefined {
  // an fentry program with its kprobe alternative runs where either does
  if (gen.methods.some(m => m === 'fentry' || m === 'fexit') && !kindSupported('fentry').ok && !kindSupported('kprobe').ok) {
    return `kernel functions need ${kindFeatureName('kprobe')}: ${kindSupported('kprobe').why}`;
  }
  const need: [AttachMethod[], 'kprobe' | 'tracepoint' | 'raw_tp' | 'uprobe' | 'usdt', string][] = [
    [['kprobe', 'kretprobe'], 'kprobe', 'kernel functions'],
    [['tracepoint'], 'tracepoint', 'tracepoints'],
    [['raw syscall'], 'raw_tp', 'syscall tracepoints'],
    [['uprobe', 'uretprobe'], 'uprobe', 'user functions'],
    [['usdt'], 'usdt', 'USDT probes'],
  ];
  for (const [methods, kind, what] of need) {
    if (!gen.methods.some(m => methods.includes(m))) continue;
    const f = kindSupported(kind);
    if (!f.ok) return `${what} need ${kindFeatureName(kind)}: ${f.why}`;
  }
  return undefined;
}

export interface AttachResult {
  /** The probes attached (a kernel function that refuses a kprobe is left out). */
  attached: ResolvedProbe[];
  /** The ones left out, and why. */
  skipped: { probe: ResolvedProbe; why: string }[];
}

/** Attaches every probe of a generated program to the loaded object, each under its id. */
export function attachProbes(bpf: BPF, gen: GeneratedProgram, opts: { pid?: number } = {}): AttachResult {
  const result: AttachResult = { attached: [], skipped: [] };
  const cookie = (p: ResolvedProbe) => BigInt(p.id);
  for (const dir of ['enter', 'exit'] as const) {
    const ids = gen.syscallIds[dir];
    if (!ids.size) continue;
    const map = bpf.map<number, number>(SYSCALL_MAP[dir]);
    for (const [nr, id] of ids) map.set(nr, id + 1);
    bpf.attachRawTracepoint(dir === 'enter' ? PROGRAM.sysEnter : PROGRAM.sysExit, `sys_${dir}`);
    for (const id of ids.values()) result.attached.push(gen.probes[id]!);
  }
  const byMethod = (m: AttachMethod) => gen.probes.filter(p => gen.methods[p.id] === m);
  for (const p of byMethod('tracepoint')) {
    if (p.type !== 'tracepoint') continue;
    bpf.attachTracepoint(PROGRAM.tracepoint, p.category, p.event, { cookie: cookie(p) });
    result.attached.push(p);
  }
  const kernel = (m: 'kprobe' | 'kretprobe', program: string, list = byMethod(m)) => {
    const plain = list.filter(p => p.type === m && !p.offset) as Extract<ResolvedProbe, { function: string }>[];
    if (!plain.length) return;
    const fns = bpf.attachKprobeFunctions(program, plain.map(p => p.function), { retprobe: m === 'kretprobe', cookies: plain.map(cookie) });
    const ok = new Set(fns);
    for (const p of plain) {
      if (ok.has(p.function)) result.attached.push(p);
      else result.skipped.push({ probe: p, why: `the kernel refused a kprobe on ${p.function}` });
    }
  };
  kernel('kprobe', PROGRAM.kprobe);
  for (const p of byMethod('kprobe')) {
    if (p.type !== 'kprobe' || !p.offset) continue;
    bpf.attachKprobe(PROGRAM.kprobeOffset, p.function, { offset: p.offset, cookie: cookie(p) });
    result.attached.push(p);
  }
  kernel('kretprobe', PROGRAM.kretprobe);
  if (gen.programs['kretprobe pair']) {
    const entries = byMethod('kprobe').filter(p => p.type === 'kprobe') as Extract<ResolvedProbe, { function: string }>[];
    bpf.attachKprobeFunctions(PROGRAM.kretPair, entries.map(p => p.function), { retprobe: true, cookies: entries.map(cookie) });
  }
  for (const [id, names] of gen.perFunction) {
    for (const name of names) if (bpf.programs.get(name)?.loaded) bpf.attach(name); // the alternative the kernel kept
    result.attached.push(gen.probes[id]!);
  }
  for (const m of ['uprobe', 'uretprobe'] as const) {
    for (const p of byMethod(m)) {
      if (p.type !== 'uprobe' && p.type !== 'uretprobe') continue;
      bpf.attachUprobe(m === 'uprobe' ? PROGRAM.uprobe : PROGRAM.uretprobe, { binary: p.binary, offset: p.fileOffset, pid: opts.pid, retprobe: m === 'uretprobe', cookie: cookie(p) });
      if (m === 'uprobe' && gen.programs['uretprobe pair']) {
        bpf.attachUprobe(PROGRAM.uretPair, { binary: p.binary, offset: p.fileOffset, pid: opts.pid, retprobe: true, cookie: cookie(p) });
      }
      result.attached.push(p);
    }
  }
  for (const p of byMethod('usdt')) {
    if (p.type !== 'usdt') continue;
    bpf.attachUsdt(PROGRAM.usdt, { binary: p.binary, provider: p.provider, name: p.name, pid: opts.pid, cookie: cookie(p) });
    result.attached.push(p);
  }
  return result;
}
