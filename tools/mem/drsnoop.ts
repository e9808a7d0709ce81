#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// drsnoop: trace direct memory reclaim: each time a task, short of free memory while allocating,
// reclaims pages itself, with its latency and the pages reclaimed. Port of BCC's drsnoop (its
// columns and -T -U -p -t -u -d -n -v) and libbpf-tools' (-e, its spelling of -v).
//
// Probes: vmscan:mm_vmscan_direct_reclaim_begin/end as BTF tracepoints (or raw tracepoints): the
// global direct reclaim of the page allocator, which is what BCC and libbpf-tools trace.
// --memcg adds mm_vmscan_memcg_reclaim_begin/end: a task charging memory to a cgroup at its limit
// (memory.max, or memory.limit_in_bytes on cgroup v1) reclaims from that cgroup in the same way,
// synchronously, but the kernel reports it with these events, not the direct reclaim ones (measured
// here: a dd in a 32 MiB cgroup, 99 memcg reclaims, 0 direct), so BCC's drsnoop shows none of it.
//
// -v's FREE(KB) is the system's free memory when the reclaim began, read (as BCC does) from the
// kernel's vm_zone_stat array, whose address kallsyms gives where CONFIG_KALLSYMS_ALL is set;
// elsewhere it is read from /proc/meminfo as each event is printed, and one stderr line says so.
import fs from 'node:fs';
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';
import { KernelSymbols } from '../../lib/syms/kallsyms.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;        /* -p */
const volatile u32 targ_tid = 0;         /* -t */
const volatile u32 targ_uid = (u32)-1;   /* -u */
const volatile u64 vm_zone_stat_addr = 0;

enum reclaim_kind { RECLAIM_DIRECT, RECLAIM_MEMCG };

struct start {
	u64 ts;
	u64 free_pages;
};

struct event {
	u64 ts;        /* end, ns */
	u64 delta_ns;
	u64 nr_reclaimed;
	u64 free_pages;
	u32 pid;
	u32 tid;
	u32 uid;
	u32 kind;
	char comm[TASK_COMM_LEN];
};

BPF_HASH(start, u32, struct start, 8192);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline int reclaim_begin(void)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id, tgid = id >> 32;
	struct start s = {};

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (targ_tid && tid != targ_tid)
		return 0;
	if (targ_uid != (u32)-1 && (u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	s.ts = bpf_ktime_get_ns();
	if (vm_zone_stat_addr) {
		/* vm_zone_stat[NR_FREE_PAGES]: an atomic_long_t array indexed by enum zone_stat_item */
		u64 index = bpf_core_enum_value(enum zone_stat_item, NR_FREE_PAGES);
		bpf_probe_read_kernel(&s.free_pages, sizeof(s.free_pages), (void *)(vm_zone_stat_addr + index * sizeof(u64)));
	}
	bpf_map_update_elem(&start, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int reclaim_end(void *ctx, unsigned long nr_reclaimed, u32 kind)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	struct start *s = bpf_map_lookup_elem(&start, &tid);
	struct event *e;

	if (!s)
		return 0; /* began before we started, or filtered out */
	e = ringbuf_reserve(events, struct event);
	if (e) {
		e->ts = bpf_ktime_get_ns();
		e->delta_ns = e->ts - s->ts;
		e->nr_reclaimed = nr_reclaimed;
		e->free_pages = s->free_pages;
		e->pid = id >> 32;
		e->tid = tid;
		e->uid = (u32)bpf_get_current_uid_gid();
		e->kind = kind;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		ringbuf_submit(events, e);
	}
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

BTF_TRACEPOINT_PROBE(mm_vmscan_direct_reclaim_begin, direct_begin, reclaim_begin())
BTF_TRACEPOINT_PROBE(mm_vmscan_direct_reclaim_end, direct_end, reclaim_end(ctx, nr_reclaimed, RECLAIM_DIRECT), unsigned long nr_reclaimed)
BTF_TRACEPOINT_PROBE(mm_vmscan_memcg_reclaim_begin, memcg_begin, reclaim_begin())
BTF_TRACEPOINT_PROBE(mm_vmscan_memcg_reclaim_end, memcg_end, reclaim_end(ctx, nr_reclaimed, RECLAIM_MEMCG), unsigned long nr_reclaimed)
`;

/** -v/-e: the system's free memory with each event (FREE(KB), free_kb). */
const showsFree = (o: Options) => o.verbose || o.extended;

interface Options {
  timestamp: boolean;
  printUid: boolean;
  pid?: number;
  tid?: number;
  uid?: number;
  duration?: number;
  name?: string;
  verbose: boolean;
  extended: boolean;
  memcg: boolean;
}

interface ReclaimEvent { ts: bigint; delta_ns: bigint; nr_reclaimed: bigint; free_pages: bigint; pid: number; tid: number; uid: number; kind: number; comm: string }

const KINDS = ['direct', 'memcg'];
const PAGE_KB = 4096 / 1024; // x86-64's page size; BCC: K(x) = x << (PAGE_SHIFT - 10)

/** MemFree of /proc/meminfo, in KiB. */
function memFreeKb(): number {
  const m = /^MemFree:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : 0;
}

defineTool<Options>({
  name: 'drsnoop',
  subsystem: 'mem',
  description: 'Trace direct memory reclaim, with its latency and the pages reclaimed',
  ports: { bcc: 'tools/drsnoop.py', 'libbpf-tools': 'libbpf-tools/drsnoop.bpf.c' },
  probes: {
    tp_btf: ['mm_vmscan_direct_reclaim_begin', 'mm_vmscan_direct_reclaim_end', 'mm_vmscan_memcg_reclaim_begin', 'mm_vmscan_memcg_reclaim_end'],
    raw_tp: ['mm_vmscan_direct_reclaim_begin', 'mm_vmscan_direct_reclaim_end', 'mm_vmscan_memcg_reclaim_begin', 'mm_vmscan_memcg_reclaim_end'],
  },
  output: 'event',
  // --memcg: the catalogue's workload reclaims in a memory cgroup (the host itself is never short of memory)
  invocations: [{ args: ['--memcg', '-d', '3'], ends: 'itself' }, { args: ['--memcg'], ends: 'ctrl-c' }],
  records: o => ({ fields: ['ts_ns', 'comm', 'pid', 'tid', 'uid', 'latency_ms', 'pages', ...(showsFree(o) ? ['free_kb'] : []), 'reclaim'] }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    printUid: opt.flag('U', 'print UID column'),
    pid: opt.pid(),
    tid: opt.tid(),
    uid: opt.uid(),
    duration: opt.duration(),
    name: opt.str('n', 'only print process names containing this name'),
    verbose: opt.flag('v', 'show system memory state'),
    extended: opt.flag('e', 'extended fields output (as -v: libbpf-tools\' spelling)'),
    memcg: { type: 'boolean', default: false, describe: 'also trace reclaim by tasks at their memory cgroup\'s limit (BCC does not)' },
  },
  examples: [
    ['drsnoop', 'trace all direct reclaim'],
    ['drsnoop -T', 'include timestamps'],
    ['drsnoop -U', 'include UID'],
    ['drsnoop -p 181', 'only trace PID 181'],
    ['drsnoop -t 123', 'only trace TID 123'],
    ['drsnoop -u 1000', 'only trace UID 1000'],
    ['drsnoop -d 10', 'trace for 10 seconds only'],
    ['drsnoop -n main', 'only print process names containing "main"'],
    ['drsnoop --memcg', 'also reclaim at memory cgroup limits'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const showFree = showsFree(opts);
    let zoneStat = 0n;
    if (showFree) {
      zoneStat = KernelSymbols.load().address('vm_zone_stat') ?? 0n;
      if (!zoneStat) {
        process.stderr.write('drsnoop: FREE(KB) is MemFree of /proc/meminfo when each event is printed: this kernel\'s kallsyms has no vm_zone_stat (CONFIG_KALLSYMS_ALL is off)\n');
      }
    }
    const bpf = load({
      rodata: { targ_tgid: opts.tid ? 0 : opts.pid ?? 0, targ_tid: opts.tid ?? 0, targ_uid: opts.uid ?? 0xffffffff, vm_zone_stat_addr: zoneStat },
      disable: opts.memcg ? [] : ['memcg_begin_btf', 'memcg_begin_raw', 'memcg_end_btf', 'memcg_end_raw'],
    });
    bpf.attachAll();

    if (json) {
      banner(`Tracing direct reclaim${opts.duration ? ` for ${opts.duration} secs` : ''}... Hit Ctrl-C to end.`);
    } else {
      // BCC prints only the header
      let hdr = (opts.timestamp ? sprintf('%-14s', 'TIME(s)') : '') + (opts.printUid ? sprintf('%-6s', 'UID') : '');
      hdr += sprintf('%-14s %-6s %8s %5s', 'COMM', opts.tid ? 'TID' : 'PID', 'LAT(ms)', 'PAGES');
      if (showFree) hdr += sprintf('%10s', 'FREE(KB)');
      if (opts.memcg) hdr += ' TYPE';
      out.line(hdr);
      out.flush();
    }

    let first: bigint | undefined;
    const stream = bpf.events<ReclaimEvent>('events', 'event', e => {
      first ??= BigInt(e.ts);
      if (opts.name !== undefined && !e.comm.includes(opts.name)) return;
      const freeKb = showFree ? (zoneStat ? Number(e.free_pages) * PAGE_KB : memFreeKb()) : 0;
      const latMs = Number(e.delta_ns) / 1e6;
      if (json) {
        emit.event({
          comm: e.comm, pid: e.pid, tid: e.tid, uid: e.uid, latency_ms: latMs, pages: e.nr_reclaimed,
          ...(showFree ? { free_kb: freeKb } : {}), reclaim: KINDS[e.kind] ?? 'direct',
        }, { tsNs: e.ts });
        return;
      }
      let s = opts.timestamp ? sprintf('%-14.9f', Number((BigInt(e.ts) - first) / 1000n) / 1e6) : '';
      if (opts.printUid) s += sprintf('%-6d', e.uid);
      s += sprintf('%-14.14s %-6s %8.2f %5d', e.comm, opts.tid ? e.tid : e.pid, latMs, e.nr_reclaimed);
      if (showFree) s += sprintf('%10d', freeKb);
      if (opts.memcg) s += ` ${KINDS[e.kind]}`;
      out.line(s);
    });

    await untilExit(opts.duration);
    stream.drain(); // what reached the ring before the end is shown, however busy the machine was
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`drsnoop: lost ${lost} events\n`);
  },
});
