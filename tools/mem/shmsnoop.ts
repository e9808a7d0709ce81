#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// shmsnoop: System V shared memory calls (shmget, shmat, shmdt, shmctl), each with its arguments and
// its result. Port of BCC's shmsnoop (its columns, flag names and -T -p -t -d -n), on the syscall
// tracepoints where BCC uses a kprobe and kretprobe on each syscall: the same two moments.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';

const SYSCALLS = ['shmget', 'shmat', 'shmdt', 'shmctl'];

const program = `
#include <bpfkit.h>
#include <bpfkit_call.h>

const volatile u32 targ_tgid = 0;
const volatile u32 targ_tid = 0;

enum { SYS_SHMGET, SYS_SHMAT, SYS_SHMDT, SYS_SHMCTL };

struct call {
	u64 key;
	u64 size;
	u64 shmflg;
	u64 shmid;
	u64 cmd;
	u64 buf;
	u64 shmaddr;
	u32 sys;
};

struct event { BPFKIT_CALL_EVENT_HEAD(struct call); };

BPFKIT_CALLS(struct call, struct event, 10240, 64);

static __always_inline int enter(struct call *c)
{
	if (targ_tgid && bpfkit_tgid() != targ_tgid)
		return 0;
	if (targ_tid && bpfkit_tid() != targ_tid)
		return 0;
	return call_enter(c);
}

TRACEPOINT_PROBE(syscalls, sys_enter_shmget)
{
	struct call c = { .sys = SYS_SHMGET, .key = (u32)args->key, .size = args->size, .shmflg = (u32)args->shmflg };
	return enter(&c);
}
TRACEPOINT_PROBE(syscalls, sys_enter_shmat)
{
	struct call c = { .sys = SYS_SHMAT, .shmid = (u32)args->shmid, .shmaddr = (u64)args->shmaddr, .shmflg = (u32)args->shmflg };
	return enter(&c);
}
TRACEPOINT_PROBE(syscalls, sys_enter_shmdt)
{
	struct call c = { .sys = SYS_SHMDT, .shmaddr = (u64)args->shmaddr };
	return enter(&c);
}
TRACEPOINT_PROBE(syscalls, sys_enter_shmctl)
{
	struct call c = { .sys = SYS_SHMCTL, .shmid = (u32)args->shmid, .cmd = (u32)args->cmd, .buf = (u64)args->buf };
	return enter(&c);
}
TRACEPOINT_PROBE(syscalls, sys_exit_shmget) { return call_exit(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_shmat) { return call_exit(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_shmdt) { return call_exit(ctx, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_shmctl) { return call_exit(ctx, args->ret); }
`;

interface Options { timestamp: boolean; pid?: number; tid?: number; duration?: number; name?: string }
interface Call { key: bigint; size: bigint; shmflg: bigint; shmid: bigint; cmd: bigint; buf: bigint; shmaddr: bigint; sys: number }
interface ShmEvent { ts: bigint; id: bigint; ret: bigint; call: Call; comm: string }

const SHMGET_FLAGS: [string, number][] = [
  ['IPC_CREAT', 0o1000], ['IPC_EXCL', 0o2000], ['SHM_HUGETLB', 0o4000], ['SHM_HUGE_2MB', 21 << 26], ['SHM_HUGE_1GB', 30 << 26],
  ['SHM_NORESERVE', 0o10000], ['SHM_EXEC', 0o100000],
];
const SHMAT_FLAGS: [string, number][] = [['SHM_RDONLY', 0o10000], ['SHM_RND', 0o20000], ['SHM_REMAP', 0o40000], ['SHM_EXEC', 0o100000]];
const SHMCTL_CMDS: Record<number, string> = {
  0: 'IPC_RMID', 1: 'IPC_SET', 2: 'IPC_STAT', 3: 'IPC_INFO', 11: 'SHM_LOCK', 12: 'SHM_UNLOCK', 13: 'SHM_STAT', 14: 'SHM_INFO', 15: 'SHM_STAT_ANY',
};

/** BCC's flag text: "0x200 (IPC_CREAT|0600)": the names of the set flags, then what is left in octal. */
function shmflgText(value: number, flags: [string, number][]): string {
  let text = `0x${value.toString(16)}`;
  if (!value) return text;
  const names: string[] = [];
  let rest = value;
  for (const [name, bit] of flags) {
    if (value & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0 || names.length === 0) names.push(`0${rest.toString(8)}`);
  return `${text} (${names.join('|')})`;
}

const hex = (v: bigint) => (v < 0n ? `-${(-v).toString(16)}` : v.toString(16));

/** The ARGs column: the call's arguments as BCC prints them. */
function argsText(c: Call): string {
  switch (c.sys) {
    case 0: return `key: 0x${c.key.toString(16)}, size: ${c.size}, shmflg: ${shmflgText(Number(c.shmflg), SHMGET_FLAGS)}`;
    case 1: return `shmid: 0x${c.shmid.toString(16)}, shmaddr: 0x${c.shmaddr.toString(16)}, shmflg: ${shmflgText(Number(c.shmflg), SHMAT_FLAGS)}`;
    case 2: return `shmaddr: 0x${c.shmaddr.toString(16)}`;
    default: return `shmid: 0x${c.shmid.toString(16)}, cmd: ${c.cmd} (${SHMCTL_CMDS[Number(c.cmd)] ?? `0x${c.cmd.toString(16)}`}), buf: 0x${c.buf.toString(16)}`;
  }
}

/** The call's arguments as JSON fields. */
function argsJson(c: Call): Record<string, unknown> {
  switch (c.sys) {
    case 0: return { key: Number(c.key), size: c.size, shmflg: Number(c.shmflg) };
    case 1: return { shmid: Number(c.shmid), shmaddr: `0x${c.shmaddr.toString(16)}`, shmflg: Number(c.shmflg) };
    case 2: return { shmaddr: `0x${c.shmaddr.toString(16)}` };
    default: return { shmid: Number(c.shmid), cmd: SHMCTL_CMDS[Number(c.cmd)] ?? Number(c.cmd), buf: `0x${c.buf.toString(16)}` };
  }
}

defineTool<Options>({
  name: 'shmsnoop',
  subsystem: 'mem',
  description: 'Trace System V shared memory syscalls (shmget, shmat, shmdt, shmctl)',
  ports: { bcc: 'tools/shmsnoop.py' },
  probes: { tracepoint: SYSCALLS.flatMap(s => [`syscalls/sys_enter_${s}`, `syscalls/sys_exit_${s}`]) },
  output: 'event',
  invocations: [{ args: ['-d', '3'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    pid: opt.pid(),
    tid: opt.tid(),
    duration: opt.duration(),
    name: opt.str('n', 'only print process names containing this name'),
  },
  examples: [
    ['shmsnoop', 'trace all shm*() syscalls'],
    ['shmsnoop -T', 'include timestamps'],
    ['shmsnoop -p 181', 'only trace PID 181'],
    ['shmsnoop -t 123', 'only trace TID 123'],
    ['shmsnoop -d 10', 'trace for 10 seconds only'],
    ['shmsnoop -n main', 'only print process names containing "main"'],
  ],
  validate: o => (o.pid !== undefined && o.tid !== undefined ? 'can only use -p or -t' : undefined),

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_tid: opts.tid ?? 0 } });
    bpf.attachAll();
    if (json) {
      banner(`Tracing shm*() syscalls${opts.duration ? ` for ${opts.duration} secs` : ''}... Hit Ctrl-C to end.`);
    } else {
      out.line((opts.timestamp ? sprintf('%-14s', 'TIME(s)') : '') + sprintf('%-6s %-16s %6s %16s ARGs', opts.tid ? 'TID' : 'PID', 'COMM', 'SYS', 'RET'));
      out.flush();
    }
    let first: bigint | undefined;
    const stream = bpf.events<ShmEvent>('events', 'event', e => {
      first ??= e.ts;
      if (opts.name !== undefined && !e.comm.includes(opts.name)) return;
      const pid = Number(e.id >> 32n), tid = Number(e.id & 0xffffffffn);
      const sys = SYSCALLS[e.call.sys];
      if (json) {
        emit.event({ pid, tid, comm: e.comm, sys, ret: e.ret, ...argsJson(e.call) }, { tsNs: e.ts });
        return;
      }
      const time = opts.timestamp ? sprintf('%-14.9f', Number(e.ts - first) / 1e9) : '';
      out.line(time + sprintf('%-6d %-16s %6s %16s ', opts.tid ? tid : pid, e.comm, sys.toUpperCase(), hex(e.ret)) + argsText(e.call));
    });
    await untilExit(opts.duration);
    stream.drain();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`shmsnoop: lost ${lost} events\n`);
  },
});
