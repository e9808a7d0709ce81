#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// ioprofile: I/O syscalls counted by syscall, user stack and process name (the book's ioprofile.bt,
// chapter 13): one program on every sys_enter tracepoint whose name has read, write, send or recv in
// it, as the book's wildcards pick them, told apart by the attachment's cookie.
import fs from 'node:fs';
import { defineTool, durationSeconds, opt, ToolError } from '../../lib/cli/index.js';
import { StackReader, type StackSample } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_pid = 0;

struct io_key {
	u32 probe;           /* the attachment's cookie: which syscall */
	u32 pid;
	s64 user_stack_id;   /* 64 bits: no padding in a hash key */
	char comm[16];
};

BPF_HASH(counts, struct io_key, u64, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

SEC("tracepoint")
int on_io_syscall(void *ctx)
{
	u32 pid = bpfkit_tgid();
	if (targ_pid && pid != targ_pid)
		return 0;
	struct io_key key = { .probe = bpf_get_attach_cookie(ctx), .pid = pid };
	key.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	map_increment(counts, key);
	return 0;
}
`;

const TRACEFS = '/sys/kernel/tracing/events/syscalls';
/** The book's tracepoint:syscalls:sys_enter_*read*, *write*, *send*, *recv*. */
const IO_SYSCALL = /^sys_enter_.*(read|write|send|recv)/;

interface Options { pid?: number; duration?: string }
interface IoKey { probe: number; pid: number; user_stack_id: bigint; comm: string }

defineTool<Options>({
  name: 'ioprofile',
  subsystem: 'app',
  description: 'Count I/O syscalls by syscall, user stack and process name',
  ports: { bpftrace: 'tools/ioprofile.bt', book: 'chapter 13, Applications' },
  probes: { tracepoint: ['syscalls/sys_enter_*read*', 'syscalls/sys_enter_*write*', 'syscalls/sys_enter_*send*', 'syscalls/sys_enter_*recv*'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    pid: opt.pid('trace this PID only'),
  },
  positional: '[duration]',
  examples: [
    ['ioprofile', 'count I/O syscall user stacks until Ctrl-C'],
    ['ioprofile -p 181', 'only trace PID 181'],
    ['ioprofile 10', 'trace for 10 seconds'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    let events: string[];
    try {
      events = fs.readdirSync(TRACEFS).filter(e => IO_SYSCALL.test(e)).sort();
    } catch {
      throw new ToolError(`cannot list the syscall tracepoints in ${TRACEFS}`);
    }
    const bpf = load({ rodata: { targ_pid: opts.pid ?? 0 } });
    events.forEach((e, i) => bpf.attachTracepoint('on_io_syscall', 'syscalls', e, { cookie: BigInt(i) }));
    const started = Date.now();
    const reader = new StackReader(bpf, { kernel: false });
    reader.track('counts', (k: IoKey) => [k.pid]);
    (json ? process.stderr : out).write('Tracing I/O syscall user stacks. Ctrl-C to end.\n');
    out.flush();
    await untilExit(duration);
    reader.stop();

    const entries = bpf.map<IoKey, bigint>('counts').entries();
    // smallest count first, as bpftrace prints a map; read() keeps that order (its sort is stable)
    const samples: (StackSample & { probe: string })[] = entries.map(([k, n]) => ({
      pid: k.pid, tgid: k.pid, comm: k.comm, userStackId: Number(k.user_stack_id), value: Number(n), probe: `tracepoint:syscalls:${events[k.probe]}`,
    })).sort((a, b) => a.value - b.value);
    const named = reader.read(samples);
    if (json) {
      emit.stacks((Date.now() - started) / 1000, 'count', named.map((s, i) => ({ probe: samples[i].probe, pid: s.pid, comm: s.comm, user_stack: s.user, count: s.value })).reverse(),
        { missed_stacks: reader.missed });
      return;
    }
    out.write('\n');
    named.forEach((s, i) => {
      const frames = s.user === null ? ['[Missed User Stack]'] : s.user ?? [];
      out.write(`@[${samples[i].probe}, \n${frames.map(f => `        ${f}\n`).join('')}, ${s.comm}]: ${s.value}\n`);
    });
    const warning = reader.missedWarning();
    if (warning) process.stderr.write(warning + '\n');
  },
});
