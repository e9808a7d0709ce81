#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// biotop: block device I/O by process, top-style: I/O count, Kbytes and average latency per PID,
// direction and disk, refreshed every interval. Port of BCC's biotop (with libbpf-tools' -s).
//
// Probes, as BTF tracepoints (tp_btf) or raw tracepoints, each given the `struct request *` that keys
// the maps (as biosnoop; BCC keys by dev+sector, which two requests in flight can share):
// - block_io_start (Linux 6.5+; block_rq_insert before that): the request is made from a bio in the
//   context of the process that submitted it: its PID and comm. Requests first seen later (the flush
//   machinery's own) are attributed at insert or issue.
// - block_rq_issue: sent to the device: the latency starts; size and direction are taken. (BCC and
//   libbpf-tools take this moment with a kprobe on blk_mq_start_request, which runs just before the
//   tracepoint: kprobes are not needed here.)
// - block_io_done (Linux 6.5+, as BCC's; block_rq_complete before that): the request is done.
import { tracepointExists } from '../../lib/attach/features.js';
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { devMajor, devMinor, diskName } from '../../lib/host/disks.js';
import { loadavgText, loadavgValues, sprintf, topRows, writeTopScreen } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_block.h>   /* rq_dev() */

const volatile u32 targ_pid = 0;  /* -p */

struct who {
	u32 pid;
	char comm[TASK_COMM_LEN];
};

struct start_req {
	u64 ts;
	u64 data_len;
	u32 write;
};

/* The output summary's key and value (BCC's info_t and val_t). */
struct info {
	u32 pid;
	u32 write;
	u32 dev; /* MKDEV(major, first_minor) of the disk */
	char comm[TASK_COMM_LEN];
};

struct val {
	u64 bytes;
	u64 us;
	u32 io;
};

BPF_HASH(whoby, struct request *, struct who);
BPF_HASH(start, struct request *, struct start_req);
BPF_HASH(counts, struct info, struct val);

static __always_inline int remember_who(struct request *rq, u64 flags)
{
	struct who who = {};

	who.pid = bpfkit_tgid();
	if (targ_pid && who.pid != targ_pid)
		return 0;
	bpf_get_current_comm(&who.comm, sizeof(who.comm));
	bpf_map_update_elem(&whoby, &rq, &who, flags);
	return 0;
}

static __always_inline int rq_issue(struct request *rq)
{
	struct start_req req = {};

	remember_who(rq, BPF_NOEXIST);
	req.ts = bpf_ktime_get_ns();
	req.data_len = BPF_CORE_READ(rq, __data_len);
	req.write = (BPF_CORE_READ(rq, cmd_flags) & 0xff) == REQ_OP_WRITE; /* the op: cmd_flags' low 8 bits */
	bpf_map_update_elem(&start, &rq, &req, BPF_ANY);
	return 0;
}

static __always_inline int rq_done(struct request *rq)
{
	struct start_req *req = bpf_map_lookup_elem(&start, &rq);
	struct who *who;
	struct val *val, zero = {};
	struct info info = {};

	if (!req)
		goto cleanup; /* issued before we started */
	who = bpf_map_lookup_elem(&whoby, &rq);
	if (who) {
		info.pid = who->pid;
		__builtin_memcpy(info.comm, who->comm, sizeof(info.comm));
	} else if (targ_pid) {
		goto cleanup; /* another process's (or unknown: BCC drops those with -p too) */
	}
	info.write = req->write;
	info.dev = rq_dev(rq);
	val = map_lookup_or_try_init(counts, &info, &zero);
	if (val) {
		__sync_fetch_and_add(&val->us, (bpf_ktime_get_ns() - req->ts) / 1000);
		__sync_fetch_and_add(&val->bytes, req->data_len);
		__sync_fetch_and_add(&val->io, 1);
	}
cleanup:
	bpf_map_delete_elem(&start, &rq);
	bpf_map_delete_elem(&whoby, &rq);
	return 0;
}

BTF_TRACEPOINT_PROBE(block_io_start, io_start, remember_who(rq, BPF_ANY), struct request *rq)
BTF_TRACEPOINT_PROBE(block_rq_insert, rq_insert, remember_who(rq, BPF_NOEXIST), struct request *rq)
BTF_TRACEPOINT_PROBE(block_rq_issue, rq_issue, rq_issue(rq), struct request *rq)
BTF_TRACEPOINT_PROBE(block_io_done, io_done, rq_done(rq), struct request *rq)
BTF_TRACEPOINT_PROBE(block_rq_complete, rq_complete, rq_done(rq), struct request *rq)
`;

const SORTS = ['bytes', 'io', 'time'] as const;
type Sort = (typeof SORTS)[number];

interface Options {
  noclear: boolean;
  maxrows: number;
  pid?: number;
  sort: Sort;
  interval?: string;
  count?: string;
}

interface Info { pid: number; write: number; dev: number; comm: string }
interface Val { bytes: bigint; us: bigint; io: number }

defineTool<Options>({
  name: 'biotop',
  subsystem: 'disk',
  description: 'Block device (disk) I/O by process, top-style',
  ports: { bcc: 'tools/biotop.py', 'libbpf-tools': 'libbpf-tools/biotop.bpf.c' },
  probes: {
    tp_btf: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_io_done', 'block_rq_complete'],
    raw_tp: ['block_io_start', 'block_rq_insert', 'block_rq_issue', 'block_io_done', 'block_rq_complete'],
  },
  output: 'top',
  invocations: [{ args: ['-C', '1', '1'], ends: 'itself' }, { args: ['-C'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['pid', 'comm', 'rw', 'major', 'minor', 'disk', 'io', 'bytes', 'kbytes', 'total_us', 'avg_ms'] }),
  program,
  options: {
    noclear: opt.flag('C', "don't clear the screen"),
    maxrows: { ...opt.int('r', 'maximum rows to print', 'maxrows', 20) },
    pid: opt.pid(),
    sort: { alias: 's', type: 'string', default: 'bytes', describe: 'sort rows by bytes (BCC\'s order), io or time (libbpf-tools\' -s)' },
  },
  positional: '[interval] [count]',
  examples: [
    ['biotop', 'block device I/O top, 1 second refresh'],
    ['biotop -C', "don't clear the screen"],
    ['biotop -p 181', 'only trace PID 181'],
    ['biotop 5', '5 second summaries'],
    ['biotop 5 10', '5 second summaries, 10 times only'],
    ['biotop -s io', 'sort by the number of I/Os'],
  ],
  validate(o) {
    if (Number(o.maxrows) === 0) return "invalid maxrows: '0' (give a number of rows above 0)";
    if (!SORTS.includes(o.sort)) return `invalid sort method: '${o.sort}' (one of ${SORTS.join(', ')})`;
    return undefined;
  },

  async run({ opts, load, out, json, emit, intervals }) {
    const { interval: given, count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : given; // BCC: a 1 second refresh by default
    const maxRows = Number(opts.maxrows);
    const hasIoStart = tracepointExists('block', 'block_io_start');
    const hasIoDone = tracepointExists('block', 'block_io_done');
    const bpf = load({
      rodata: { targ_pid: opts.pid ?? 0 },
      disable: [
        ...(hasIoStart ? ['rq_insert_btf', 'rq_insert_raw'] : ['io_start_btf', 'io_start_raw']),
        ...(hasIoDone ? ['rq_complete_btf', 'rq_complete_raw'] : ['io_done_btf', 'io_done_raw']),
      ],
    });
    bpf.attachAll();
    const counts = bpf.map('counts');
    const message = `Tracing... Output every ${interval} secs. Hit Ctrl-C to end`;
    if (json) process.stderr.write(message + '\n');
    else {
      out.line(message);
      out.flush();
    }
    // the --json column each order ranks by
    const sortColumn = { bytes: 'bytes', io: 'io', time: 'total_us' } as const;

    await intervals(interval, count, (last, seconds) => {
      const loadavg = loadavgText();
      const entries = counts.drain().map(([k, v]) => ({ k: k as Info, v: v as Val }));
      const rank = { bytes: (v: Val) => v.bytes, io: (v: Val) => v.io, time: (v: Val) => v.us }[opts.sort];
      const rows = topRows(entries, e => rank(e.v), maxRows).map(({ k, v }) => ({
        pid: k.pid, comm: k.comm, rw: k.write ? 'W' : 'R', major: devMajor(k.dev), minor: devMinor(k.dev),
        disk: diskName(k.dev), io: v.io, bytes: v.bytes, kbytes: BigInt(v.bytes) / 1024n, total_us: v.us,
        avg_ms: v.io ? Number(v.us) / 1000 / v.io : 0,
      }));
      if (json) {
        emit.top(seconds, sortColumn[opts.sort], rows, { loadavg: loadavgValues(loadavg) });
        return;
      }
      const header = sprintf('%-7s %-16s %1s %-3s %-3s %-8s %5s %7s %6s', 'PID', 'COMM', 'D', 'MAJ', 'MIN', 'DISK', 'I/O', 'Kbytes', 'AVGms');
      writeTopScreen(out, { clear: !opts.noclear }, header, rows.map(r =>
        sprintf('%-7d %-16s %1s %-3d %-3d %-8s %5s %7s %6.2f', r.pid, r.comm, r.rw, r.major, r.minor, r.disk, r.io, r.kbytes, r.avg_ms)), loadavg);
      if (last) out.line('Detaching...');
    });
  },
});
