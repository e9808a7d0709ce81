#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// exitsnoop: trace process termination — age, exit code or fatal signal (BCC's exitsnoop), from the
// sched:sched_process_exit tracepoint, which fires after the task's exit code is set.
import fs from 'node:fs';
import os from 'node:os';
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, timeZoneAbbreviation } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_task.h>                      /* current_task(), struct task_struct___lean */

const volatile u32 targ_tgid = 0;
const volatile bool trace_failed_only = false;
const volatile bool trace_by_process = true;

struct event {
	u64 start_time;
	u64 exit_time;
	u32 pid;
	u32 tid;
	u32 ppid;
	u32 sig;       /* low 7 bits of the exit status: the fatal signal, 0 for a normal exit */
	s32 exit_code; /* the status as wait(2) reports it */
	char comm[16];
};

BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(sched, sched_process_exit)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32, tid = (u32)id;
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (trace_by_process && tgid != tid)
		return 0;
	struct task_struct___lean *task = current_task();
	int code = BPF_CORE_READ(task, exit_code);
	if (trace_failed_only && code == 0)
		return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	e->start_time = BPF_CORE_READ(task, start_time);
	e->exit_time = bpf_ktime_get_ns();
	e->pid = tgid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->sig = code & 0x7f;
	e->exit_code = code;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
	return 0;
}
`;

/** --label: each line's label (--label= labels it 'exit'); undefined: no label column or field. */
const labelOf = (o: Options) => (o.label === undefined ? undefined : o.label || 'exit');

interface Options {
  timestamp: boolean;
  failed: boolean;
  pid?: number;
  perThread: boolean;
  utc: boolean;
  label?: string;
}

interface ExitEvent {
  start_time: bigint;
  exit_time: bigint;
  pid: number;
  tid: number;
  ppid: number;
  sig: number;
  exit_code: number;
  comm: string;
}

const signalNames = Object.fromEntries(Object.entries(os.constants.signals).map(([name, n]) => [n, name.replace(/^SIG/, '')]));

/** BCC's wording: "0", "code 3", "signal 9 (KILL)", "signal 11 (SEGV), core dumped " (BCC's trailing space). */
function exitText(status: number): string {
  if ((status & 0xff) === 0) return status === 0 ? '0' : `code ${status >> 8}`;
  const sig = status & 0x7f;
  return (sig ? `signal ${sig} (${signalNames[sig] ?? 'unknown'})` : '') + (status & 0x80 ? ', core dumped ' : '');
}

function clock(utc: boolean): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return utc
    ? `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`
    : `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

defineTool<Options>({
  name: 'exitsnoop',
  subsystem: 'cpu',
  description: 'Trace process termination (exit and fatal signals)',
  ports: { bcc: 'tools/exitsnoop.py', 'libbpf-tools': 'libbpf-tools/exitsnoop.bpf.c' },
  probes: { tracepoint: ['sched/sched_process_exit'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: o => ({ fields: [...(labelOf(o) !== undefined ? ['label'] : []), 'ts_ns', 'comm', 'pid', 'ppid', 'tid', 'age_s', 'exit_code', 'signal', 'core_dumped', 'text'] }),
  program,
  options: {
    timestamp: opt.flag('t', 'include timestamp (local time default)'),
    utc: { type: 'boolean', default: false, describe: 'include timestamp in UTC (-t implied)' },
    failed: opt.flag('x', 'trace only fails, exclude exit(0)'),
    pid: opt.pid('trace this PID only'),
    label: opt.str(undefined, "label each line (--label= labels it 'exit')"),
    perThread: { type: 'boolean', default: false, describe: 'trace per thread termination' },
  },
  examples: [
    ['exitsnoop', 'trace all process termination'],
    ['exitsnoop -x', 'trace only fails, exclude exit(0)'],
    ['exitsnoop -t', 'include timestamp (local time default)'],
    ['exitsnoop --utc', 'include timestamp in UTC'],
    ['exitsnoop -p 181', 'only trace PID 181 (ends when it exits)'],
    ['exitsnoop --label=exit', "label each output line with 'exit'"],
    ['exitsnoop --per-thread', 'trace per thread termination'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const showTime = opts.timestamp || opts.utc;
    const label = labelOf(opts);
    const bpf = load({
      rodata: { targ_tgid: opts.pid ?? 0, trace_failed_only: opts.failed, trace_by_process: !opts.perThread },
    });
    bpf.attachAll();
    if (!json) {
      // BCC: 'TIME-' + strftime("%Z"); a long zone name still leaves a space before the next column
      const title = `TIME-${opts.utc ? 'UTC' : timeZoneAbbreviation()}`;
      out.line((showTime ? sprintf('%-13s', title) + (title.length >= 13 ? ' ' : '') : '') + (label !== undefined ? sprintf('%-6s', 'LABEL') : '') +
        sprintf('%-16s %-7s %-7s %-7s %-7s %-10s', 'PCOMM', 'PID', 'PPID', 'TID', 'AGE(s)', 'EXIT_CODE'));
    }
    // As BCC: with -p (and not --per-thread) the tool ends once that process has exited.
    let processExited!: () => void;
    const targetGone = new Promise<void>(resolve => (processExited = resolve));
    bpf.events<ExitEvent>('events', 'event', e => {
      const age = Number(e.exit_time - e.start_time) / 1e9;
      if (json) {
        emit.event({ ...(label !== undefined ? { label } : {}), comm: e.comm, pid: e.pid, ppid: e.ppid, tid: e.tid,
          age_s: Number(age.toFixed(3)), exit_code: e.sig ? null : e.exit_code >> 8, signal: e.sig ? signalNames[e.sig] ?? e.sig : null,
          core_dumped: !!(e.exit_code & 0x80), text: exitText(e.exit_code).trimEnd() }, { tsNs: e.exit_time });
      } else {
        out.line((showTime ? sprintf('%-13s', clock(opts.utc)) : '') + (label !== undefined ? sprintf('%-6s', label) : '') +
          sprintf('%-16s %-7d %-7d %-7d %-7.2f %s', e.comm, e.pid, e.ppid, e.tid, age, exitText(e.exit_code)));
      }
      if (opts.pid && !opts.perThread) processExited();
    });
    // it may have exited between the PID check and the attach: then there is no event to wait for
    if (opts.pid && !opts.perThread && !processAlive(opts.pid)) processExited();
    await Promise.race([untilExit(), targetGone]);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`exitsnoop: lost ${lost} events\n`);
  },
});

/** Whether the process still runs (a zombie has already exited). */
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
