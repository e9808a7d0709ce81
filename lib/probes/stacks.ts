// Stacks at generated probes (stackcount; trace and funcslower's -U/-K can take the same): every hit
// counted under (process, user stack id, kernel stack id, comm) in a hash, the stacks in a
// BPF_STACK_TRACE map that lib/stacks reads and symbolises. Which sides are collected and whether
// processes are told apart are const volatile globals, so the C is the same for every flag.
import type { CodegenOptions } from './codegen.js';
import type { ResolvedProbe } from './resolve.js';

/** BCC's key for processes not told apart (kernel stacks only, no -P): one count per stack for all. */
export const ALL_PROCESSES = 0xffffffff;

/** The counts map's key, as lib/bpf decodes it. */
export interface StackCountKey { tgid: number; user_stack_id: number; kernel_stack_id: number; caller_ip: bigint; name: string }

/** What to collect: set before load through stackCountGlobals(). */
export interface StackCountOptions {
  user: boolean;
  kernel: boolean;
  /** Key by process (and keep its comm); BCC does so for -P, user probes and user stacks. */
  perProcess: boolean;
}

// A uprobe fires at a function's first instruction, before it pushes its frame pointer: a frame-pointer
// walk goes from the function straight to its caller's caller. The return address is then at the top
// of the stack: it is kept in the key (caller_ip) and put back as the second frame (lib/stacks), unless
// the kernel already did (Linux fixes this itself for some entry instructions).
// No BPF_F_REUSE_STACKID (BCC's flag): a colliding stack is reported missed, not counted under another's frames.
const PRELUDE = `/* -U/-K: which stacks; -P (or user stacks): one count per process */
const volatile bool targ_user_stack = true;
const volatile bool targ_kernel_stack = true;
const volatile bool targ_per_process = true;

struct stack_count_key {
	u32 tgid;
	int user_stack_id;
	int kernel_stack_id;
	u32 __pad;   /* a hash key has no unnamed padding: its bytes are compared */
	u64 caller_ip;
	char name[16];
};

BPF_HASH(counts, struct stack_count_key, u64, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

static __always_inline void count_stack(void *ctx, bool function_entry)
{
	struct stack_count_key key = {};
	key.tgid = targ_per_process ? bpfkit_tgid() : ${ALL_PROCESSES}U;
	if (targ_per_process)
		bpf_get_current_comm(&key.name, sizeof(key.name));
	key.user_stack_id = targ_user_stack ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
	key.kernel_stack_id = targ_kernel_stack ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	if (function_entry && targ_user_stack && key.user_stack_id >= 0)
		bpf_probe_read_user(&key.caller_ip, sizeof(key.caller_ip), (void *)PT_REGS_SP((struct pt_regs *)ctx));
	map_increment(counts, key);
}`;

/**
 * The generator's options for counting stacks at every probe: maps `counts` and `stack_traces`. One
 * pattern gives probes of one kind: one call for all; a mix gets a switch (a call inlined per probe,
 * as the return-address read must not reach the other kinds' programs, whose context has no registers).
 */
export function stackCountCodegen(probes: ResolvedProbe[]): CodegenOptions {
  const entry = (p: ResolvedProbe) => p.type === 'uprobe';
  const mixed = probes.some(entry) && !probes.every(entry);
  return {
    prelude: PRELUDE,
    onHit: mixed ? p => `count_stack(ctx, ${entry(p)});` : `count_stack(ctx, ${probes.length > 0 && probes.every(entry)});`,
  };
}

/** Kernel probes (functions, tracepoints) only: BCC's is_kernel_probe(). */
export function kernelProbesOnly(probes: ResolvedProbe[]): boolean {
  return probes.every(p => p.type === 'kprobe' || p.type === 'kretprobe' || p.type === 'tracepoint');
}

/** The globals' values for the generated program's rodata. */
export function stackCountGlobals(o: StackCountOptions): Record<string, unknown> {
  return { targ_user_stack: o.user, targ_kernel_stack: o.kernel, targ_per_process: o.perProcess };
}
