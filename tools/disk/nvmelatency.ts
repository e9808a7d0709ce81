#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// nvmelatency: NVMe command latency as a log2 histogram of usecs per disk and command (read, write,
// flush...). Port of the BPF Performance Tools book's nvmelatency.bt, in BCC's histogram format,
// with -d DISK, -T and [interval] [count].
//
// Probes: the book times nvme_setup_cmd -> nvme_complete_rq with kprobes; here the NVMe driver's
// tracepoints of the same names, as BTF (or raw) tracepoints: nvme_setup_cmd(req, cmd) gives the
// command's opcode, nvme_complete_rq(req) its end. Commands of the admin queue (no disk) show as
// "admin". Without the NVMe driver (this VM's disk is virtio-blk) there is nothing to trace: one line
// says so.
import { defineTool, diskRodata, intervalCount, opt } from '../../lib/cli/index.js';
import { diskName } from '../../lib/host/disks.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev(), struct request___lean */

const volatile bool filter_dev = false; /* -d DISK */
const volatile u32 targ_dev = 0;

struct nvme_common_command___lean { u8 opcode; } __attribute__((preserve_access_index));
struct nvme_command___lean { struct nvme_common_command___lean common; } __attribute__((preserve_access_index));

struct setup {
	u64 ts;
	u32 dev;
	u32 opcode;
};

struct cmd_key {
	u32 dev; /* the namespace's disk; 0: the admin queue */
	u32 opcode;
	u64 slot;
};

BPF_HASH(start, struct request___lean *, struct setup);
BPF_HISTOGRAM(dist, struct cmd_key);

static __always_inline int setup_cmd(struct request___lean *rq, struct nvme_command___lean *cmd)
{
	struct setup s = { .ts = bpf_ktime_get_ns(), .dev = rq_dev(rq), .opcode = BPF_CORE_READ(cmd, common.opcode) };
	if (filter_dev && s.dev != targ_dev)
		return 0;
	bpf_map_update_elem(&start, &rq, &s, BPF_ANY);
	return 0;
}

static __always_inline int complete_rq(struct request___lean *rq)
{
	struct setup *s = bpf_map_lookup_elem(&start, &rq);
	if (!s)
		return 0;
	s64 delta = (s64)(bpf_ktime_get_ns() - s->ts);
	struct cmd_key key = { .dev = s->dev, .opcode = s->opcode };
	bpf_map_delete_elem(&start, &rq);
	if (delta < 0)
		return 0;
	key.slot = bpf_log2l((u64)delta / 1000);
	map_increment(dist, key);
	return 0;
}

BTF_TRACEPOINT_PROBE(nvme_setup_cmd, setup, setup_cmd(rq, cmd), struct request___lean *rq, struct nvme_command___lean *cmd)
BTF_TRACEPOINT_PROBE(nvme_complete_rq, complete, complete_rq(rq), struct request___lean *rq)
`;

/** NVM command set opcodes (include/linux/nvme.h, enum nvme_opcode). */
const IO_OPCODES: Record<number, string> = {
  0x00: 'flush', 0x01: 'write', 0x02: 'read', 0x04: 'write_uncor', 0x05: 'compare', 0x08: 'write_zeroes',
  0x09: 'dsm', 0x0c: 'verify', 0x0d: 'resv_register', 0x0e: 'resv_report', 0x11: 'resv_acquire',
  0x15: 'resv_release', 0x79: 'zone_mgmt_send', 0x7a: 'zone_mgmt_recv', 0x7d: 'zone_append',
};

function commandName(k: { dev: number; opcode: number }): string {
  const hex = `0x${k.opcode.toString(16).padStart(2, '0')}`;
  if (!k.dev) return `admin ${hex}`;
  return `${diskName(k.dev)} ${IO_OPCODES[k.opcode] ?? hex}`;
}

interface Options {
  disk?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'nvmelatency',
  subsystem: 'disk',
  description: 'Summarize NVMe command latency as a histogram per disk and command',
  ports: { book: 'originals/Ch09_Disks/nvmelatency.bt' },
  probes: { tp_btf: ['nvme_setup_cmd', 'nvme_complete_rq'], raw_tp: ['nvme_setup_cmd', 'nvme_complete_rq'] },
  requires: { driver: 'NVMe', tracepoints: ['nvme:nvme_setup_cmd'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself', needs: '/sys/kernel/tracing/events/nvme' }],
  records: () => ({ sectionBy: 'command' }),
  program,
  options: { disk: opt.disk(), timestamp: opt.flag('T', 'include timestamp on output') },
  positional: '[interval] [count]',
  examples: [
    ['nvmelatency', 'summarize NVMe command latency per disk and command'],
    ['nvmelatency -d nvme0n1 1 10', 'nvme0n1 only, 1 second summaries, 10 times'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: diskRodata(opts.disk) });
    bpf.attachAll();
    const dist = bpf.histogram('dist');
    const section = { sectionHeader: 'command', sectionFormat: (k: { dev: number; opcode: number }) => commandName(k) };
    banner('Tracing NVMe command latency. Hit Ctrl-C to end.');
    await intervals(interval, count, () => dist.printInterval({ out, emit, json }, 'usecs', section, { timestamp: opts.timestamp }));
  },
});
