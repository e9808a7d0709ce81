// pthread mutex probes shared by pmlock (time waiting in pthread_mutex_lock) and pmheld (time from a
// lock's return to the unlock): uprobes on libc, a log2 histogram per (mutex, process, user stack),
// printed as BCC's sectioned histograms with the mutex's address, the process and the stack in each
// section's title.
import type { BPF } from '../bpf.js';
import { opt, type ToolOption } from '../cli/options.js';
import type { OutputWriter, RecordEmitter } from '../output/index.js';
import { StackReader } from '../stacks/index.js';
import { functionOffset } from '../syms/index.js';
import { timeUnit } from './latency.js';

/** One program text for both tools: `targ_held` picks what a lock's return starts (pmheld) or ends (pmlock). */
export const MUTEX_C = `
#include <bpfkit.h>

const volatile u32 targ_pid = 0;
const volatile bool targ_held = false;  /* pmheld: hold times; else pmlock: lock wait */
const volatile u64 targ_divisor = 1;     /* ns per histogram unit (-u, -m) */

struct lock_call { u64 ts; u64 mutex; };
struct held_key { u64 mutex; u64 pid; };  /* no padding: a hash key is compared bytewise */
struct mutex_key {
	u64 mutex;
	u32 pid;
	s32 user_stack_id;
	u64 caller;          /* at an entry probe, the return address the stack walk skips */
	char comm[16];
	u64 slot;
};

BPF_HASH(locking, u32, struct lock_call, 10240);
BPF_HASH(held, struct held_key, u64, 10240);
BPF_HISTOGRAM(dist, struct mutex_key, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

static __always_inline void record(struct pt_regs *ctx, u64 mutex, u64 ns, u64 caller)
{
	struct mutex_key key = { .mutex = mutex, .pid = bpfkit_tgid(), .caller = caller };
	key.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	key.slot = bpf_log2l(ns / targ_divisor);
	map_increment(dist, key);
}

/* pthread_mutex_lock(mutex), pthread_mutex_trylock(mutex) */
SEC("uprobe")
int BPF_KPROBE(mutex_lock_entry, void *mutex)
{
	if (targ_pid && bpfkit_tgid() != targ_pid)
		return 0;
	u32 tid = bpfkit_tid();
	struct lock_call c = { .ts = bpf_ktime_get_ns(), .mutex = (u64)mutex };
	bpf_map_update_elem(&locking, &tid, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(mutex_lock_return, int ret)
{
	u32 tid = bpfkit_tid();
	struct lock_call *c = bpf_map_lookup_elem(&locking, &tid);
	if (!c)
		return 0;
	u64 now = bpf_ktime_get_ns();
	if (targ_held) {
		if (ret == 0) {   /* a trylock that failed holds nothing */
			struct held_key k = { .pid = bpfkit_tgid(), .mutex = c->mutex };
			bpf_map_update_elem(&held, &k, &now, BPF_ANY);
		}
	} else {
		record(ctx, c->mutex, now - c->ts, 0);
	}
	bpf_map_delete_elem(&locking, &tid);
	return 0;
}

/* pthread_mutex_unlock(mutex): pmheld only */
SEC("uprobe")
int BPF_KPROBE(mutex_unlock_entry, void *mutex)
{
	struct held_key k = { .pid = bpfkit_tgid(), .mutex = (u64)mutex };
	u64 *since = bpf_map_lookup_elem(&held, &k);
	if (!since)
		return 0;
	u64 caller = 0;
	bpf_probe_read_user(&caller, sizeof(caller), (void *)PT_REGS_SP(ctx));
	record(ctx, k.mutex, bpf_ktime_get_ns() - *since, caller);
	bpf_map_delete_elem(&held, &k);
	return 0;
}
`;

export const MUTEX_PROBES = {
  uprobe: ['c:pthread_mutex_lock', 'c:pthread_mutex_trylock', 'c:pthread_mutex_unlock'],
  uretprobe: ['c:pthread_mutex_lock', 'c:pthread_mutex_trylock'],
};

export interface MutexOptions { pid?: number; microseconds: boolean; milliseconds: boolean; duration?: string }

export const MUTEX_OPTIONS: Record<string, ToolOption> = {
  pid: opt.pid('trace this PID only'),
  microseconds: opt.flag('u', 'microsecond histograms'),
  milliseconds: opt.flag('m', 'millisecond histograms'),
};

const STACK_FRAMES = 5;

interface MutexKey { mutex: bigint; pid: number; user_stack_id: number; caller: bigint; comm: string }

/** Loads MUTEX_C for pmlock (held: false) or pmheld (held: true) and attaches its uprobes on libc. */
export function loadMutexProbes(load: (o: { rodata: Record<string, unknown>; disable?: string[] }) => BPF, o: MutexOptions, held: boolean): BPF {
  const bpf = load({
    rodata: { targ_pid: o.pid ?? 0, targ_held: held, targ_divisor: BigInt(timeUnit(o).divisor) },
    disable: held ? [] : ['mutex_unlock_entry'],
  });
  const at = (symbol: string) => ({ ...functionOffset('c', symbol), pid: o.pid });
  // pmlock times pthread_mutex_lock alone (a trylock does not wait); pmheld counts what trylock took too
  for (const fn of held ? ['pthread_mutex_lock', 'pthread_mutex_trylock'] : ['pthread_mutex_lock']) {
    bpf.attachUprobe('mutex_lock_entry', at(fn));
    bpf.attachUprobe('mutex_lock_return', { ...at(fn), retprobe: true });
  }
  if (held) bpf.attachUprobe('mutex_unlock_entry', at('pthread_mutex_unlock'));
  return bpf;
}

/**
 * The histograms, one section per mutex, process and stack: "mutex = 0x... comm [pid]" and
 * the stack's frames (innermost first) under it, sections ordered by mutex address.
 */
export function printMutexHistograms(bpf: BPF, reader: StackReader, o: MutexOptions, out: OutputWriter, emit: RecordEmitter | undefined): void {
  const unit = timeUnit(o).label;
  const title = (k: MutexKey) => {
    // the innermost frames, as the book's ustack(5): enough to tell the call sites apart
    const frames = (reader.frames('user', k.user_stack_id, k.pid, { userCallerIp: k.caller || undefined }) ?? ['[Missed User Stack]']).slice(0, STACK_FRAMES);
    return { mutex: `0x${k.mutex.toString(16)}`, task: `${k.comm} [${k.pid}]`, frames };
  };
  const dist = bpf.histogram('dist');
  const data = dist.read();
  const byAddress = (a: string | number, b: string | number) => {
    const [x, y] = [BigInt(String(a).split(' ')[0]), BigInt(String(b).split(' ')[0])];
    return x < y ? -1 : x > y ? 1 : String(a).localeCompare(String(b));
  };
  if (emit) {
    emit.histogram(dist.json(unit, {
      sectionHeader: 'mutex', sectionSort: byAddress,
      sectionFormat: (k: MutexKey) => { const t = title(k); return `${t.mutex} ${t.task} ${t.frames.join(';')}`; },
    }, data));
    return;
  }
  out.write(dist.format(unit, {
    sectionHeader: 'mutex', sectionSort: byAddress,
    sectionFormat: (k: MutexKey) => { const t = title(k); return [`${t.mutex} ${t.task}`, ...t.frames].join('\n\t'); },
  }, data));
}
