#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// execsnoop: trace new processes via exec() syscalls. Port of BCC's execsnoop: the argument vector is
// gathered at sys_enter_execve, the result and the new comm at sys_exit_execve.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { userName } from '../../lib/host/users.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_task.h>                      /* current_task(), struct task_struct___lean */

#define ARGSIZE 128
#define TOTAL_MAX_ARGS 60
#define FULL_MAX_ARGS_ARR (TOTAL_MAX_ARGS * ARGSIZE)
#define LAST_ARG (FULL_MAX_ARGS_ARR - ARGSIZE)

const volatile u32 targ_uid = (u32)-1;
const volatile u32 targ_ppid = 0;
const volatile bool ignore_failed = true;
const volatile int max_args = 20;

struct event {
	u32 pid;
	u32 ppid;
	u32 uid;
	s32 retval;
	s32 args_count;
	u32 args_size;
	char comm[16];
	char args[FULL_MAX_ARGS_ARR];
};

BPF_TABLE_FLAGS(BPF_MAP_TYPE_HASH, u32, struct event, execs, 10240, BPF_F_NO_PREALLOC);
BPF_RINGBUF_OUTPUT(events, 256);

static const struct event empty_event = {};

TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	u32 uid = (u32)bpf_get_current_uid_gid();
	struct task_struct___lean *task = current_task();
	u32 ppid = BPF_CORE_READ(task, real_parent, tgid);

	if (targ_uid != (u32)-1 && targ_uid != uid)
		return 0;
	if (targ_ppid && targ_ppid != ppid)
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_NOEXIST))
		return 0;
	struct event *e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->ppid = ppid;
	e->uid = uid;

	long n = bpf_probe_read_user_str(e->args, ARGSIZE, (const char *)args->filename);
	if (n < 0)
		n = 0;
	if (n <= ARGSIZE) {
		e->args_size = n;
		e->args_count = 1;
	}

	const char *const *argv = (const char *const *)args->argv;
	const char *argp;
	#pragma unroll
	for (int i = 1; i < TOTAL_MAX_ARGS; i++) {
		if (i >= max_args)
			break;
		if (bpf_probe_read_user(&argp, sizeof(argp), &argv[i]) || !argp)
			return 0;
		if (e->args_size > LAST_ARG)
			return 0;
		n = bpf_probe_read_user_str(&e->args[e->args_size], ARGSIZE, argp);
		if (n > ARGSIZE || n < 0)
			return 0;
		e->args_count++;
		e->args_size += n;
	}
	/* more arguments than max_args: say so with a last, empty argument as BCC prints "..." */
	if (bpf_probe_read_user(&argp, sizeof(argp), &argv[max_args]) || !argp)
		return 0;
	e->args_count++;
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_execve)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	int ret = args->ret;
	if (ignore_failed && ret < 0)
		goto cleanup;
	e->retval = ret;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	u32 len = offsetof(struct event, args) + e->args_size;
	if (len <= sizeof(*e))
		ringbuf_output(events, e, len);
cleanup:
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}
`;

interface Options {
  time: boolean;
  timestamp: boolean;
  fails: boolean;
  uid?: number;
  quote: boolean;
  name?: string;
  line?: string;
  printUid: boolean;
  ppid?: number;
  maxArgs: number;
}

interface ExecEvent {
  pid: number;
  ppid: number;
  uid: number;
  retval: number;
  args_count: number;
  args_size: number;
  comm: string;
  args: Uint8Array;
}

defineTool<Options>({
  name: 'execsnoop',
  subsystem: 'cpu',
  description: 'Trace new processes via exec() syscalls',
  ports: { bcc: 'tools/execsnoop.py', 'libbpf-tools': 'libbpf-tools/execsnoop.bpf.c', bpftrace: 'tools/execsnoop.bt', book: 'chapter 6, CPUs' },
  probes: { tracepoint: ['syscalls/sys_enter_execve', 'syscalls/sys_exit_execve'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['pid', 'ppid', 'uid', 'user', 'comm', 'ret', 'args', 'truncated'] }),
  program,
  options: {
    time: opt.flag('T', 'include a time column on output (HH:MM:SS)'),
    timestamp: opt.flag('t', 'include a timestamp column (seconds since start)'),
    fails: opt.flag('x', 'include failed exec()s'),
    uid: opt.uid(),
    quote: opt.flag('q', 'add "quotemarks" around arguments'),
    name: opt.str('n', 'only print commands matching this name (regex), any arg'),
    line: opt.str('l', 'only print commands where arg contains this line (regex)'),
    printUid: opt.flag('U', 'print UID column'),
    ppid: opt.pid('trace this parent PID only', 'P'),
    maxArgs: opt.int(undefined, 'maximum number of arguments parsed and displayed', 'max-args', 20),
  },
  examples: [
    ['execsnoop', 'trace all exec() syscalls'],
    ['execsnoop -x', 'include failed exec()s'],
    ['execsnoop -T', 'include time (HH:MM:SS)'],
    ['execsnoop -P 181', 'only trace new processes whose parent PID is 181'],
    ['execsnoop -U', 'include UID'],
    ['execsnoop -u 1000', 'only trace UID 1000'],
    ['execsnoop -u user', 'get user UID and trace only them'],
    ['execsnoop -t', 'include timestamps'],
    ['execsnoop -q', 'add "quotemarks" around arguments'],
    ['execsnoop -n main', 'only print command lines containing "main"'],
    ['execsnoop -l tpkg', 'only print command where arguments contains "tpkg"'],
    ['execsnoop --json', 'one JSON object per exec'],
  ],
  validate(o) {
    if (o.maxArgs < 1 || o.maxArgs > 59) return `invalid max-args: '${o.maxArgs}' (must be 1..59)`;
    for (const re of [o.name, o.line]) {
      if (re === undefined) continue;
      try {
        new RegExp(re);
      } catch {
        return `invalid regular expression: '${re}'`;
      }
    }
    return undefined;
  },

  async run({ opts, load, banner, out, json, emit, untilExit, monotonicNs }) {
    const bpf = load({
      rodata: { targ_uid: opts.uid ?? 0xffffffff, targ_ppid: opts.ppid ?? 0, ignore_failed: !opts.fails, max_args: opts.maxArgs },
    });
    bpf.attachAll();

    const nameRe = opts.name ? new RegExp(opts.name) : undefined;
    const lineRe = opts.line ? new RegExp(opts.line) : undefined;
    const start = monotonicNs();
    if (!json) {
      let hdr = '';
      if (opts.time) hdr += sprintf('%-9s', 'TIME');
      if (opts.timestamp) hdr += sprintf('%-8s ', 'TIME(s)');
      if (opts.printUid) hdr += sprintf('%-6s ', 'UID');
      out.line(hdr + sprintf('%-16s %-7s %-7s %3s %s', 'PCOMM', 'PID', 'PPID', 'RET', 'ARGS'));
    }

    bpf.events<ExecEvent>('events', 'event', e => {
      const argv = splitArgs(e.args, e.args_size);
      const truncated = e.args_count > argv.length;
      if (nameRe && !nameRe.test(e.comm)) return;
      const shown = opts.quote ? argv.map(a => `"${a.replace(/"/g, '\\"')}"`) : argv;
      const line = shown.join(' ') + (truncated ? ' ...' : '');
      if (lineRe && !lineRe.test(line)) return;
      if (json) {
        emit.event({ pid: e.pid, ppid: e.ppid, uid: e.uid, user: userName(e.uid) ?? null, comm: e.comm, ret: e.retval, args: argv, truncated });
        return;
      }
      let s = '';
      if (opts.time) s += sprintf('%-9s', strftimeHMS());
      if (opts.timestamp) s += sprintf('%-8.3f ', Number(monotonicNs() - start) / 1e9);
      if (opts.printUid) s += sprintf('%-6d ', e.uid);
      // BCC prints a newline inside an argument as \n, so that each exec stays one row
      out.line(s + sprintf('%-16s %-7d %-7s %3d %s', e.comm, e.pid, e.ppid ? String(e.ppid) : '?', e.retval, line.replace(/\n/g, '\\n')));
    }, { bytesFields: ['args'] });

    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`execsnoop: lost ${lost} events\n`);
  },
});

/** The args buffer holds NUL-terminated strings back to back. */
function splitArgs(buf: Uint8Array, size: number): string[] {
  const out: string[] = [];
  let startIdx = 0;
  const end = Math.min(size, buf.length);
  for (let i = 0; i < end; i++) {
    if (buf[i] === 0) {
      out.push(Buffer.from(buf.buffer, buf.byteOffset + startIdx, i - startIdx).toString('utf8'));
      startIdx = i + 1;
    }
  }
  return out;
}
