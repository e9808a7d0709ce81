#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// oomkill: trace the OOM killer: each kill with the process that triggered it (the task running the
// OOM killer: the one whose allocation could not be met), the victim, and the load averages. BCC's
// oomkill, with its line and its user stack of the triggering process.
//
// BCC and libbpf-tools read oom_kill_process()'s arguments with a kprobe (or fentry); this kernel has
// neither, so the tool traces the oom:mark_victim tracepoint, which that function hits for the victim,
// from the task doing the kill. The tracepoint has no oom_control: "pages" is the victim's resident
// pages (its anon + file + shmem RSS) instead of BCC's size of the OOM constraint (totalpages).
import fs from 'node:fs';
import { defineTool } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';
import { frameText, ProcessSymbols } from '../../lib/syms/index.js';

const program = `
#include <bpfkit.h>

struct event {
	u64 ts;
	u64 rss_kb;
	u32 fpid;
	u32 tpid;
	int stack_id;
	char fcomm[TASK_COMM_LEN];
	char tcomm[TASK_COMM_LEN];
};

BPF_RINGBUF_OUTPUT(events, 16);
BPF_STACK_TRACE(stack_traces, 1024);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(oom, mark_victim)
{
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->fpid = bpfkit_tgid();
	e->tpid = args->pid;
	e->rss_kb = args->anon_rss + args->file_rss + args->shmem_rss;
	bpf_get_current_comm(&e->fcomm, sizeof(e->fcomm));
	TP_DATA_LOC_READ_STR(&e->tcomm, comm, sizeof(e->tcomm));
	e->stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	ringbuf_submit(events, e);
	return 0;
}
`;

interface OomEvent { ts: bigint; rss_kb: bigint; fpid: number; tpid: number; stack_id: number; fcomm: string; tcomm: string }

const PAGE_KB = 4; // x86-64's 4 KiB pages

defineTool<{ json: boolean }>({
  name: 'oomkill',
  subsystem: 'mem',
  description: 'Trace the out-of-memory killer: the triggering process, the victim, its pages',
  ports: { bcc: 'tools/oomkill.py', 'libbpf-tools': 'libbpf-tools/oomkill.bpf.c', bpftrace: 'tools/oomkill.bt', book: 'chapter 7, Memory' },
  probes: { tracepoint: ['oom/mark_victim'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'trigger_pid', 'trigger_comm', 'victim_pid', 'victim_comm', 'pages', 'loadavg', 'user_stack'] }),
  program,
  options: {},
  examples: [['oomkill', 'trace OOM killer events']],

  async run({ load, out, json, emit, banner, untilExit }) {
    process.stderr.write('oomkill: traced at oom:mark_victim, pages are the victim\'s resident pages: this kernel has no kprobes or fentry for oom_kill_process\n');
    const bpf = load();
    bpf.attachAll();
    banner('Tracing OOM kills... Ctrl-C to stop.');

    const stream = bpf.events<OomEvent>('events', 'event', e => {
      const loadavg = fs.readFileSync('/proc/loadavg', 'utf8').trimEnd();
      const pages = Number(e.rss_kb) / PAGE_KB;
      // the triggering process is often the victim, on its way out: its mappings are read at once
      const symbols = new ProcessSymbols(e.fpid);
      const frames = e.stack_id >= 0 ? bpf.stackIps('stack_traces', e.stack_id).map(ip => frameText(ip, undefined, symbols)) : null;
      if (json) {
        emit.event({ trigger_pid: e.fpid, trigger_comm: e.fcomm, victim_pid: e.tpid, victim_comm: e.tcomm, pages, loadavg, user_stack: frames }, { tsNs: e.ts });
        return;
      }
      out.line(`${strftimeHMS()} Triggered by PID ${e.fpid} ("${e.fcomm}"), OOM kill of PID ${e.tpid} ("${e.tcomm}"), ${pages} pages, loadavg: ${loadavg}`);
      if (frames) {
        out.line('  Stack trace:');
        for (const f of frames) out.line(`    ${f}`);
      } else {
        out.line('  Failed to capture stack trace');
      }
      out.flush();
    });
    await untilExit();
    stream.drain();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`oomkill: lost ${lost} events\n`);
  },
});
