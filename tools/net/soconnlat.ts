#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// soconnlat: IP socket connect() latency as a log2 histogram per process, or with -s per user stack and
// process (the book's soconnlat.bt, chapter 10). A blocking connect is timed from sys_enter_connect to
// its exit; a non-blocking one (EINPROGRESS) until a poll/ppoll/epoll_wait/epoll_pwait(2)/select/pselect6
// of the same thread returns events while its socket has left SYN_SENT (the book takes any such return).
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { StackReader, formatStack } from '../../lib/stacks/index.js';
import { formatLog2Hist, log2HistJson, strftimeHMS } from '../../lib/output/index.js';

const POLLS = ['poll', 'ppoll', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'select', 'pselect6'];

const program = `
#include <bpfkit_net.h>   /* traced_ip_connect(), current_fd_sock(), TCP_SYN_SENT */

#define EINPROGRESS 115

const volatile u32 targ_tgid = 0;
const volatile bool want_stacks = false;

struct hist_key {
	u32 tgid;            /* -s: whose address space the stack is in; else 0 */
	int user_stack_id;   /* -s; else -1 */
	char comm[16];
	u64 slot;
};
struct connect_start { u64 ts; u64 sk; int fd; int user_stack_id; };

BPF_HASH(starts, u32, struct connect_start, 10240);
BPF_HISTOGRAM(dist, struct hist_key, 10240);
BPF_STACK_TRACE(stack_traces, 4096);

TRACEPOINT_PROBE(syscalls, sys_enter_connect)
{
	struct bpfkit_sockaddr sa;
	if (!traced_ip_connect(targ_tgid, (const void *)args->uservaddr, &sa))
		return 0;
	struct connect_start s = { .ts = bpf_ktime_get_ns(), .fd = args->fd, .user_stack_id = -1 };
	if (want_stacks)
		s.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	u32 tid = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline void count_connect(u32 tid, struct connect_start *s)
{
	u64 id = bpf_get_current_pid_tgid();
	struct hist_key k = { .user_stack_id = s->user_stack_id };
	if (want_stacks)
		k.tgid = id >> 32;
	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	k.slot = bpf_log2l((bpf_ktime_get_ns() - s->ts) / 1000);
	map_increment(dist, k);
	bpf_map_delete_elem(&starts, &tid);
}

TRACEPOINT_PROBE(syscalls, sys_exit_connect)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct connect_start *s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	if (args->ret == -EINPROGRESS)
		s->sk = current_fd_sock(s->fd);   /* a wait's return completes it once the socket has left SYN_SENT */
	else
		count_connect(tid, s);
	return 0;
}

/* a wait for events that returned some: a non-blocking connect of this thread is done if its socket
 * has left SYN_SENT (established, or refused) */
static __always_inline int wait_returned(long ret)
{
	if (ret <= 0)
		return 0;
	u32 tid = bpf_get_current_pid_tgid();
	struct connect_start *s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	struct sock *sk = (struct sock *)s->sk;
	if (sk && BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_SYN_SENT)
		return 0;
	count_connect(tid, s);
	return 0;
}

${POLLS.map(p => `TRACEPOINT_PROBE(syscalls, sys_exit_${p}) { return wait_returned(args->ret); }`).join('\n')}
`;

interface Options { pid?: number; stacks: boolean; timestamp: boolean; interval?: string; count?: string }
interface HistKey { tgid: number; user_stack_id: number; comm: string }

defineTool<Options>({
  name: 'soconnlat',
  subsystem: 'net',
  description: 'Summarize IP socket connect() latency as a histogram, per process or user stack',
  ports: { book: 'originals/Ch10_Networking/soconnlat.bt' },
  probes: { tracepoint: ['syscalls/sys_enter_connect', 'syscalls/sys_exit_connect', ...POLLS.map(p => `syscalls/sys_exit_${p}`)] },
  output: 'histogram',
  records: o => ({ sectionBy: o.stacks ? 'stack' : 'comm' }),
  invocations: [{ args: ['3', '1'], ends: 'itself' }, { args: ['-s'], ends: 'ctrl-c' }],
  program,
  options: {
    pid: opt.pid(),
    stacks: opt.flag('s', 'a histogram per user stack of the connect() (and process)'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['soconnlat', 'connect() latency histograms per process until Ctrl-C'],
    ['soconnlat -s', 'one histogram per user stack that called connect()'],
    ['soconnlat 1 10', 'print 1 second summaries, 10 times'],
    ['soconnlat -p 181', 'only trace PID 181'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, want_stacks: opts.stacks } });
    bpf.attachAll();
    const dist = bpf.histogram('dist');
    const reader = opts.stacks ? new StackReader(bpf, { user: true, kernel: false }) : undefined;
    reader?.track('dist', (k: HistKey) => [k.tgid]);
    banner(`Tracing IP connect() latency${opts.stacks ? ' with ustacks' : ''}. Ctrl-C to end.`);
    await intervals(interval, count, () => {
      const data = dist.read(true);
      if (!reader) {
        if (json) emit.histogram(dist.json('usecs', { sectionHeader: 'comm', sectionFormat: (k: HistKey) => k.comm }, data));
        else {
          out.line('');
          if (opts.timestamp) out.line(strftimeHMS());
          out.write(dist.format('usecs', { sectionHeader: 'comm', sectionFormat: (k: HistKey) => k.comm }, data));
        }
        return;
      }
      const sections = data.sections.map(s => {
        const k = s.raw as HistKey;
        return { pid: k.tgid, tgid: k.tgid, comm: k.comm, userStackId: k.user_stack_id, value: s.slots.reduce((a, b) => a + b, 0), slots: s.slots };
      }).sort((a, b) => a.value - b.value);
      const named = reader.read(sections);
      if (json) {
        emit.histogram({
          val_type: 'usecs', scale: 'log2', section_by: 'stack',
          sections: named.map((s, i) => {
            const { total, buckets } = log2HistJson(sections[i].slots, 'usecs');
            return { key: `${s.comm} (${s.pid});${(s.user ?? []).join(';')}`, total, buckets, pid: s.pid, comm: s.comm, user_stack: s.user };
          }),
        });
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      named.forEach((s, i) => {
        out.write(formatStack(s, { withoutValue: true }));
        out.write(formatLog2Hist(sections[i].slots, 'usecs') + '\n');
      });
      const warning = reader.missedWarning();
      if (warning) process.stderr.write(warning + '\n');
    });
    reader?.stop();
  },
});
