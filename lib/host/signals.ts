// Signal numbers and names for killsnoop and sigsnoop: the -s list option and libbpf-tools' names.
import os from 'node:os';
import { UsageError } from '../cli/options.js';

const byNumber = new Map<number, string>();
for (const [name, n] of Object.entries(os.constants.signals)) if (!byNumber.has(n)) byNumber.set(n, name);
// the names sigsnoop -n prints: SIGABRT for 6 (not SIGIOT), SIGIO for 29 (not SIGPOLL), SIGNAL-32..64 above SIGSYS
byNumber.set(6, 'SIGABRT');
byNumber.set(29, 'SIGIO');

/** sigsnoop -n's name of a signal: SIGUSR1, ..., SIGSYS, then SIGNAL-32 to SIGNAL-64. */
export function signalName(sig: number): string {
  if (sig >= 32) return `SIGNAL-${sig}`;
  return byNumber.get(sig) ?? String(sig);
}

/**
 * "-s 9,15" or "-s KILL,SIGTERM": the bit mask (bit sig-1 per signal) the BPF filter takes. Numbers
 * 1-64 or names with or without SIG.
 */
export function signalMask(v: unknown): bigint | undefined {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  let mask = 0n;
  for (const part of s.split(',')) {
    const name = part.trim().toUpperCase();
    const n = /^\d+$/.test(name) ? Number(name) : (os.constants.signals as Record<string, number>)[name.startsWith('SIG') ? name : `SIG${name}`];
    if (!n || n < 1 || n > 64) throw new UsageError(`invalid signal: '${part}' (a number from 1 to 64 or a name, e.g. 9 or KILL)`);
    mask |= 1n << BigInt(n - 1);
  }
  return mask;
}

/**
 * BPF C that killsnoop and sigsnoop share (after #include <bpfkit.h>): the kill(2), tkill(2) and
 * tgkill(2) syscall tracepoints, the signal kept by thread at entry and reported with the syscall's
 * result at exit in ring buffer `events` (struct signal_event); the filters are set before load. It is
 * text, not a header, because bpfkit generates each TRACEPOINT_PROBE's args struct from the program.
 */
export const SIGNAL_SYSCALLS_C = `
const volatile u32 targ_pid = 0;        /* the sender's PID */
const volatile s32 targ_tpid = 0;       /* the receiver's (killsnoop -T) */
const volatile u64 targ_signals = 0;    /* bit sig-1 of each signal to trace; 0: all */
const volatile bool targ_failed = false;

struct signal_event {
	u64 ts;
	u32 pid;
	s32 tpid;
	s32 sig;
	s32 ret;
	char comm[16];
	char tcomm[16];                 /* the receiver's comm, from signal_generate (sigsnoop) */
};

BPF_HASH(sending, u32, struct signal_event, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct signal_event);

static __always_inline bool signal_wanted(u32 pid, s32 tpid, s32 sig)
{
	if (targ_signals && (sig < 1 || sig > 64 || !(targ_signals & (1ULL << (sig - 1)))))
		return false;
	return (!targ_pid || pid == targ_pid) && (!targ_tpid || tpid == targ_tpid);
}

static __always_inline int signal_sent(s32 tpid, s32 sig)
{
	u64 id = bpf_get_current_pid_tgid();
	if (!signal_wanted(id >> 32, tpid, sig))
		return 0;
	struct signal_event e = { .pid = id >> 32, .tpid = tpid, .sig = sig };
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	u32 tid = id;
	bpf_map_update_elem(&sending, &tid, &e, BPF_ANY);
	return 0;
}

static __always_inline int signal_result(void *ctx, s64 ret)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct signal_event *e = bpf_map_lookup_elem(&sending, &tid);
	if (!e)
		return 0;
	if (!targ_failed || ret < 0) {
		e->ret = ret;
		e->ts = bpf_ktime_get_ns();
		ringbuf_output(events, e, sizeof(*e));
	}
	bpf_map_delete_elem(&sending, &tid);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_kill) { return signal_sent(args->pid, args->sig); }
TRACEPOINT_PROBE(syscalls, sys_exit_kill) { return signal_result(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_enter_tkill) { return signal_sent(args->pid, args->sig); }
TRACEPOINT_PROBE(syscalls, sys_exit_tkill) { return signal_result(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_enter_tgkill) { return signal_sent(args->pid, args->sig); }
TRACEPOINT_PROBE(syscalls, sys_exit_tgkill) { return signal_result(ctx, args->ret); }
`;
