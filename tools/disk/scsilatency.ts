#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// scsilatency: SCSI command latency as a log2 histogram of usecs per command opcode (READ_10,
// WRITE_10, SYNCHRONIZE_CACHE...). Port of the BPF Performance Tools book's scsilatency.bt, in
// BCC's histogram format, with -T and [interval] [count].
//
// Probes: the book times scsi_init_io -> scsi_done with kprobes; here the SCSI midlayer's own
// tracepoints at dispatch and completion, scsi_dispatch_cmd_start -> scsi_dispatch_cmd_done, as BTF
// (or raw) tracepoints given the `struct scsi_cmnd *`, whose CDB's first byte is the opcode. Without
// the SCSI midlayer (this VM's virtio disk is virtio-blk) there is nothing to trace: one line says so.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { scsiOpcodeName } from '../../lib/host/scsi.js';

const program = `
#include <bpfkit.h>

/* The CDB is an array since Linux 5.19 (a pointer before): CO-RE tells which. */
struct scsi_cmnd___arr { unsigned char cmnd[32]; } __attribute__((preserve_access_index));
struct scsi_cmnd___ptr { unsigned char *cmnd; } __attribute__((preserve_access_index));

struct opcode_key {
	u64 opcode;
	u64 slot;
};

BPF_HASH(start, void *, u64);
BPF_HISTOGRAM(dist, struct opcode_key);

static __always_inline int cmd_start(void *cmd)
{
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &cmd, &ts, BPF_ANY);
	return 0;
}

static __always_inline int cmd_done(void *cmd)
{
	u64 *tsp = bpf_map_lookup_elem(&start, &cmd);
	if (!tsp)
		return 0;
	s64 delta = (s64)(bpf_ktime_get_ns() - *tsp);
	bpf_map_delete_elem(&start, &cmd);
	if (delta < 0)
		return 0;
	unsigned char op = 0;
	struct scsi_cmnd___arr *arr = cmd;
	if (bpf_core_field_exists(arr->cmnd))
		op = BPF_CORE_READ(arr, cmnd[0]);
	else
		bpf_probe_read_kernel(&op, 1, BPF_CORE_READ((struct scsi_cmnd___ptr *)cmd, cmnd));
	struct opcode_key key = { .opcode = op, .slot = bpf_log2l((u64)delta / 1000) };
	map_increment(dist, key);
	return 0;
}

BTF_TRACEPOINT_PROBE(scsi_dispatch_cmd_start, dispatch_start, cmd_start(cmd), void *cmd)
BTF_TRACEPOINT_PROBE(scsi_dispatch_cmd_done, dispatch_done, cmd_done(cmd), void *cmd)
`;

interface Options {
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'scsilatency',
  subsystem: 'disk',
  description: 'Summarize SCSI command latency as a histogram per opcode',
  ports: { book: 'originals/Ch09_Disks/scsilatency.bt' },
  probes: { tp_btf: ['scsi_dispatch_cmd_start', 'scsi_dispatch_cmd_done'], raw_tp: ['scsi_dispatch_cmd_start', 'scsi_dispatch_cmd_done'] },
  requires: { driver: 'SCSI', tracepoints: ['scsi:scsi_dispatch_cmd_start'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself', needs: '/sys/kernel/tracing/events/scsi' }],
  records: () => ({ sectionBy: 'opcode' }),
  program,
  options: { timestamp: opt.flag('T', 'include timestamp on output') },
  positional: '[interval] [count]',
  examples: [
    ['scsilatency', 'summarize SCSI command latency per opcode'],
    ['scsilatency 1 10', 'print 1 second summaries, 10 times'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load();
    bpf.attachAll();
    const dist = bpf.histogram('dist');
    const section = { sectionHeader: 'opcode', sectionFormat: (op: bigint | number) => scsiOpcodeName(Number(op)) };
    banner('Tracing scsi latency. Hit Ctrl-C to end.');
    await intervals(interval, count, () => dist.printInterval({ out, emit, json }, 'usecs', section, { timestamp: opts.timestamp }));
  },
});
