#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// scsiresult: SCSI command results counted by their host byte, driver byte and status, as the BPF
// Performance Tools book's scsiresult.bt prints them ("DID_OK, DRIVER_OK, SAM_STAT_GOOD"), at
// Ctrl-C or every interval.
//
// Probe: the scsi:scsi_dispatch_cmd_done tracepoint (the book's), as a BTF or raw tracepoint given
// the `struct scsi_cmnd *`, whose result is the one the tracepoint records. Without the SCSI
// midlayer (this VM's disk is virtio-blk) there is nothing to trace: one line says so.
import { defineTool, intervalCount } from '../../lib/cli/index.js';
import { scsiResultName } from '../../lib/host/scsi.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

struct scsi_cmnd___res { int result; } __attribute__((preserve_access_index));

BPF_HASH(results, u32, u64, 1024);

static __always_inline int cmd_done(struct scsi_cmnd___res *cmd)
{
	u32 result = BPF_CORE_READ(cmd, result);
	map_increment(results, result);
	return 0;
}

BTF_TRACEPOINT_PROBE(scsi_dispatch_cmd_done, dispatch_done, cmd_done(cmd), struct scsi_cmnd___res *cmd)
`;

interface Options { interval?: string; count?: string }

defineTool<Options>({
  name: 'scsiresult',
  subsystem: 'disk',
  description: 'Count SCSI command results by host byte, driver byte and status',
  ports: { book: 'originals/Ch09_Disks/scsiresult.bt' },
  probes: { tp_btf: ['scsi_dispatch_cmd_done'], raw_tp: ['scsi_dispatch_cmd_done'] },
  requires: { driver: 'SCSI', tracepoints: ['scsi:scsi_dispatch_cmd_done'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself', needs: '/sys/kernel/tracing/events/scsi' }],
  records: () => ({ fields: ['result', 'name', 'count'] }),
  program,
  options: {},
  positional: '[interval] [count]',
  examples: [
    ['scsiresult', 'count SCSI results until Ctrl-C'],
    ['scsiresult 5 1', 'count them for 5 seconds'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load();
    bpf.attachAll();
    const results = bpf.map('results');
    banner('Tracing scsi command results. Hit Ctrl-C to end.');
    await intervals(interval, count, (_last, seconds) => {
      // bpftrace prints a count map smallest first
      const rows = (results.drain() as [number, bigint][]).map(([r, n]) => ({ result: r, name: scsiResultName(r), count: Number(n) }))
        .sort((a, b) => a.count - b.count);
      if (json) {
        emit.counts(seconds, rows.map(r => ({ result: r.result, name: r.name, count: r.count })));
        return;
      }
      if (interval < 99999999) out.line(strftimeHMS());
      for (const r of rows) out.line(sprintf('@[%s]: %d', r.name, r.count));
      out.line('');
    });
  },
});
