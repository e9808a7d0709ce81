#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// mdflush: flush requests to md (software RAID) devices, one line each. Port of BCC's mdflush (and
// libbpf-tools'): TIME PID COMM DEVICE.
//
// Probe: md_flush_request(mddev, bio), by fentry or kprobe, as libbpf-tools; the device is the bio's
// disk (bi_bdev->bd_disk since Linux 5.12, bi_disk before). Where neither can attach, the same
// flushes are seen as they are queued: block_bio_queue, for bios with REQ_PREFLUSH to a disk of md's
// major (9). Without the md driver there is nothing to trace: one line says so.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

#define DISK_NAME_LEN 32
#define MD_MAJOR 9

const volatile u32 targ_pid = 0;

struct gendisk___md { char disk_name[DISK_NAME_LEN]; int major; } __attribute__((preserve_access_index));
struct block_device___md { struct gendisk___md *bd_disk; } __attribute__((preserve_access_index));
struct bio___md { struct block_device___md *bi_bdev; } __attribute__((preserve_access_index));
struct bio___old { struct gendisk___md *bi_disk; } __attribute__((preserve_access_index)); /* before 5.12 */

struct md_flush {
	u64 ts;
	u32 pid;
	char comm[TASK_COMM_LEN];
	char disk[DISK_NAME_LEN];
};

BPF_RINGBUF_OUTPUT(events, 16);
BPFKIT_EXPORT_TYPE(struct md_flush);

static __always_inline struct md_flush *start_event(void)
{
	u32 pid = bpfkit_tgid();
	if (targ_pid && pid != targ_pid)
		return NULL;
	struct md_flush *e = ringbuf_reserve(events, struct md_flush);
	if (!e)
		return NULL;
	e->ts = bpf_ktime_get_ns();
	e->pid = pid;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	return e;
}

static __always_inline int flushed(void *ctx, struct bio___md *bio)
{
	struct md_flush *e = start_event();
	if (!e)
		return 0;
	struct gendisk___md *disk;
	if (bpf_core_field_exists(bio->bi_bdev))
		disk = BPF_CORE_READ(bio, bi_bdev, bd_disk);
	else
		disk = BPF_CORE_READ((struct bio___old *)bio, bi_disk);
	BPF_CORE_READ_STR_INTO(&e->disk, disk, disk_name);
	ringbuf_submit(events, e);
	return 0;
}

SEC("fentry/md_flush_request") int BPF_PROG(md_flush_fentry, void *mddev, struct bio___md *bio) { return flushed(ctx, bio); }
SEC("kprobe/md_flush_request") int BPF_KPROBE(md_flush_kprobe, void *mddev, struct bio___md *bio) { return flushed(ctx, bio); }

/* The substitute: a flush (REQ_PREFLUSH: 'F' first in rwbs) queued to an md device. */
TRACEPOINT_PROBE(block, block_bio_queue)
{
	if (args->rwbs[0] != 'F' || (args->dev >> 20) != MD_MAJOR)
		return 0;
	struct md_flush *e = start_event();
	if (!e)
		return 0;
	/* md devices are md<minor>: md0, md127 */
	u32 minor = args->dev & ((1 << 20) - 1);
	BPF_SNPRINTF(e->disk, sizeof(e->disk), "md%u", minor);
	ringbuf_submit(events, e);
	return 0;
}
`;

interface Options { pid?: number }
interface MdFlush { ts: bigint; pid: number; comm: string; disk: string }

defineTool<Options>({
  name: 'mdflush',
  subsystem: 'disk',
  description: 'Trace md flush events',
  ports: { bcc: 'tools/mdflush.py', 'libbpf-tools': 'libbpf-tools/mdflush.bpf.c', bpftrace: 'tools/mdflush.bt', book: 'chapter 9, Disk I/O' },
  probes: { fentry: ['md_flush_request'], kprobe: ['md_flush_request'], tracepoint: ['block/block_bio_queue'] },
  substitutes: [{
    programs: ['tracepoint__block__block_bio_queue'],
    says: 'flushes seen at block_bio_queue',
    differs: 'flush bios queued to md devices (major 9), named md<minor>; the process is the one queueing the bio',
  }],
  requires: { driver: 'md (software RAID)', functions: ['md_flush_request'], paths: ['/proc/mdstat'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c', needs: '/proc/mdstat', quiet: 'flushes only where an md array is written' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'disk'] }),
  program,
  options: { pid: opt.pid() },
  examples: [['mdflush', 'trace md flush events']],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_pid: opts.pid ?? 0 } });
    bpf.attachAll();
    banner('Tracing md flush requests... Hit Ctrl-C to end.');
    if (!json) out.line(sprintf('%-8s %-7s %-16s %s', 'TIME', 'PID', 'COMM', 'DEVICE'));
    const stream = bpf.events<MdFlush>('events', 'md_flush', e => {
      if (json) emit.event({ pid: e.pid, comm: e.comm, disk: e.disk }, { tsNs: e.ts });
      else out.line(sprintf('%-8s %-7d %-16s %s', strftimeHMS(), e.pid, e.comm, e.disk));
    });
    await untilExit();
    stream.drain();
  },
});
