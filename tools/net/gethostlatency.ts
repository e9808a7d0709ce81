#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// gethostlatency: how long each name lookup through libc takes (BCC's gethostlatency): uprobes on
// getaddrinfo(), gethostbyname() and gethostbyname2() and their returns, natively here. -l names the libc
// to probe (libbpf-tools' option), for a process that uses another one.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;

#define HOST_LEN 80

struct lookup {
	u64 start_ns;
	char host[HOST_LEN];
};
struct event {
	u64 ts_ns;
	u64 delta_ns;
	u32 pid;
	char comm[16];
	char host[HOST_LEN];
};

BPF_HASH(lookups, u32, struct lookup, 10240);   /* thread -> its lookup in progress */
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

/* the three functions' first argument is the name looked up */
SEC("uprobe")
int BPF_KPROBE(lookup_entry, const char *name)
{
	u64 id = bpf_get_current_pid_tgid();
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	struct lookup l = { .start_ns = bpf_ktime_get_ns() };
	bpf_probe_read_user_str(&l.host, sizeof(l.host), name);
	u32 tid = id;
	bpf_map_update_elem(&lookups, &tid, &l, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(lookup_return)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	struct lookup *l = bpf_map_lookup_elem(&lookups, &tid);
	if (!l)
		return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (e) {
		e->ts_ns = bpf_ktime_get_ns();
		e->delta_ns = e->ts_ns - l->start_ns;
		e->pid = id >> 32;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		__builtin_memcpy(e->host, l->host, sizeof(e->host));
		ringbuf_submit(events, e);
	}
	bpf_map_delete_elem(&lookups, &tid);
	return 0;
}
`;

interface Options {
  pid?: number;
  libc?: string;
}

interface LookupEvent { ts_ns: bigint; delta_ns: bigint; pid: number; comm: string; host: string }

const FUNCTIONS = ['getaddrinfo', 'gethostbyname', 'gethostbyname2'];

defineTool<Options>({
  name: 'gethostlatency',
  subsystem: 'net',
  description: 'Show latency for getaddrinfo/gethostbyname[2] calls',
  ports: { bcc: 'tools/gethostlatency.py', 'libbpf-tools': 'libbpf-tools/gethostlatency.bpf.c', bpftrace: 'tools/gethostlatency.bt', book: 'originals/Ch10_Networking/gethostlatency.bt' },
  probes: { uprobe: FUNCTIONS.map(f => `c:${f}`), uretprobe: FUNCTIONS.map(f => `c:${f}`) },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'latency_ms', 'host'] }),
  program,
  options: {
    pid: opt.pid(),
    libc: opt.str('l', 'Specify which libc.so to use'),
  },
  examples: [
    ['gethostlatency', 'time getaddrinfo/gethostbyname[2] calls'],
    ['gethostlatency -p 181', 'only trace PID 181'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    const binary = opts.libc ?? 'c';
    for (const symbol of FUNCTIONS) {
      bpf.attachUprobe('lookup_entry', { binary, symbol, pid: opts.pid });
      bpf.attachUprobe('lookup_return', { binary, symbol, pid: opts.pid, retprobe: true });
    }
    if (!json) out.line(sprintf('%-9s %-7s %-16s %10s %s', 'TIME', 'PID', 'COMM', 'LATms', 'HOST'));
    bpf.events<LookupEvent>('events', 'event', e => {
      const ms = Number(e.delta_ns) / 1e6;
      if (json) {
        emit.event({ pid: e.pid, comm: e.comm, latency_ms: ms, host: e.host }, { tsNs: e.ts_ns });
        return;
      }
      out.line(sprintf('%-9s %-7d %-16s %10.2f %s', strftimeHMS(), e.pid, e.comm, ms, e.host));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`gethostlatency: lost ${lost} events\n`);
  },
});
