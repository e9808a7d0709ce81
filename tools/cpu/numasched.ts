#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// numasched: tasks that switch NUMA node (BCC's numasched): at every sched_switch, the NUMA node the
// switching-out thread ran on is compared with the node of its previous switch; a change is printed.
// On a machine with one node (as this VM: /sys/devices/system/node/node0 only) it never prints one.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 filter_pid = 0;
const volatile u32 filter_tid = 0;
const volatile char targ_comm[TASK_COMM_LEN] = {};

struct event { char comm[TASK_COMM_LEN]; u32 pid; u32 tid; u32 old_nid; u32 new_nid; };
BPFKIT_EXPORT_TYPE(struct event);
BPF_RINGBUF_OUTPUT(events, 16);
BPF_LRU_HASH(numaid_info, u32, u32, 65536);   /* thread -> node of its last switch */

TRACEPOINT_PROBE(sched, sched_switch)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 pid = id >> 32, tid = (u32)id;
	if (!pid || !tid || (filter_pid && pid != filter_pid) || (filter_tid && tid != filter_tid))
		return 0;
	u32 nid = bpf_get_numa_node_id();
	u32 *old = bpf_map_lookup_elem(&numaid_info, &tid);
	if (old && *old != nid) {
		struct event e = { .pid = pid, .tid = tid, .old_nid = *old, .new_nid = nid };
		bpf_get_current_comm(e.comm, sizeof(e.comm));
		bool match = true;
		for (int i = 0; i < TASK_COMM_LEN && targ_comm[0]; i++) {   /* -c: the whole name */
			if (e.comm[i] != targ_comm[i]) {
				match = false;
				break;
			}
			if (!e.comm[i])
				break;
		}
		if (match)
			ringbuf_output(events, &e, sizeof(e));
	}
	if (!old || *old != nid)
		bpf_map_update_elem(&numaid_info, &tid, &nid, BPF_ANY);
	return 0;
}
`;

interface Options { pid?: number; tid?: number; comm?: string }

defineTool<Options>({
  name: 'numasched',
  subsystem: 'cpu',
  description: 'Trace task NUMA switch',
  ports: { bcc: 'tools/numasched.py' },
  probes: { tracepoint: ['sched/sched_switch'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c', quiet: 'on one NUMA node no task switches node' }],
  records: () => ({ fields: ['pid', 'tid', 'src_nid', 'dst_nid', 'comm'] }),
  program,
  options: {
    pid: opt.pid('trace this PID only'),
    tid: opt.tid('trace this TID only'),
    comm: opt.comm('trace this COMM only'),
  },
  examples: [
    ['numasched', 'trace all processes'],
    ['numasched -p 185', 'trace PID 185 only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { filter_pid: opts.pid ?? 0, filter_tid: opts.tid ?? 0, targ_comm: opts.comm ?? '' } });
    bpf.events<{ comm: string; pid: number; tid: number; old_nid: number; new_nid: number }>('events', 'event', e => {
      if (json) return emit.event({ pid: e.pid, tid: e.tid, src_nid: e.old_nid, dst_nid: e.new_nid, comm: e.comm });
      out.line(sprintf('%-8s %-8d %-8d %-8d -> %-8d %-8s', strftimeHMS(), e.pid, e.tid, e.old_nid, e.new_nid, e.comm));
    });
    bpf.attachAll();
    banner('Tracing task NUMA switch...');
    if (!json) out.line(sprintf('%-8s %-8s %-8s %-8s    %-8s %-8s', 'TIME', 'PID', 'TID', 'SRC_NID', 'DST_NID', 'COMM'));
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`numasched: lost ${lost} events\n`);
  },
});
