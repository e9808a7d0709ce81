#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// netqtop: packets and bytes per queue of one network interface, transmit and receive, each interval:
// average size and counts by size range, with -t the bytes and packets per second. Port of BCC's netqtop.
//
// Probes, as BTF tracepoints (or raw tracepoints), given the `struct sk_buff *` (BCC's own tracepoints):
// net_dev_start_xmit (the TX queue is skb->queue_mapping) and netif_receive_skb (the RX queue that the
// driver recorded, skb_get_rx_queue(): queue_mapping - 1, or queue 0 when none is recorded).
import fs from 'node:fs';
import { defineTool, opt, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftime } from '../../lib/output/index.js';

const program = `
#include <bpfkit_netdev.h>   /* targ_ifname, skb_dev_wanted() */

#define MAX_QUEUE_NUM 1024

struct queue_data {
	u64 total_pkt_len;
	u32 num_pkt;
	u32 size_64B;
	u32 size_512B;
	u32 size_2K;
	u32 size_16K;
	u32 size_64K;
};

BPF_HASH(tx_q, u16, struct queue_data, MAX_QUEUE_NUM);
BPF_HASH(rx_q, u16, struct queue_data, MAX_QUEUE_NUM);

static __always_inline void count_packet(void *queues, u16 qid, u32 len)
{
	struct queue_data zero = {};
	struct queue_data *q = __bpfkit_lookup_or_try_init(queues, &qid, &zero);
	if (!q)
		return;
	__sync_fetch_and_add(&q->total_pkt_len, len);
	__sync_fetch_and_add(&q->num_pkt, 1);
	if (len < 64)
		__sync_fetch_and_add(&q->size_64B, 1);
	else if (len < 512)
		__sync_fetch_and_add(&q->size_512B, 1);
	else if (len < 2048)
		__sync_fetch_and_add(&q->size_2K, 1);
	else if (len < 16384)
		__sync_fetch_and_add(&q->size_16K, 1);
	else if (len < 65536)
		__sync_fetch_and_add(&q->size_64K, 1);
}

static __always_inline int on_xmit(struct sk_buff *skb)
{
	if (skb_dev_wanted(skb))
		count_packet(&tx_q, BPF_CORE_READ(skb, queue_mapping), BPF_CORE_READ(skb, len));
	return 0;
}

static __always_inline int on_receive(struct sk_buff *skb)
{
	if (!skb_dev_wanted(skb))
		return 0;
	u16 mapping = BPF_CORE_READ(skb, queue_mapping);
	count_packet(&rx_q, mapping ? mapping - 1 : 0, BPF_CORE_READ(skb, len));
	return 0;
}

BTF_TRACEPOINT_PROBE(net_dev_start_xmit, start_xmit, on_xmit(skb), struct sk_buff *skb, struct net_device *dev)
BTF_TRACEPOINT_PROBE(netif_receive_skb, receive_skb, on_receive(skb), struct sk_buff *skb)
`;

interface Options {
  name?: string;
  interval?: number;
  throughput: boolean;
}

interface QueueData { total_pkt_len: bigint; num_pkt: number; size_64B: number; size_512B: number; size_2K: number; size_16K: number; size_64K: number }

const SIZE_RANGES = ['[0, 64)', '[64, 512)', '[512, 2K)', '[2K, 16K)', '[16K, 64K)'];
/** The --json names of the size ranges (bytes, upper bound excluded). */
const SIZE_FIELDS = ['size_0_64', 'size_64_512', 'size_512_2k', 'size_2k_16k', 'size_16k_64k'];
const ROW_FIELDS = ['direction', 'queue', 'packets', 'bytes', 'avg_size', ...SIZE_FIELDS];

/** BCC's to_str: K and M of 1024 above a thousand and a million, two decimals at most. */
function toStr(n: number): string {
  const round2 = (x: number) => String(Math.round(x * 100) / 100);
  if (n > 1000000) return `${round2(n / (1024 * 1024))}M`;
  if (n > 1000) return `${round2(n / 1024)}K`;
  return round2(n);
}

/** The number of RX and TX queues of an interface of this network namespace (sysfs), or a usage error. */
function queueCounts(dev: string): { rx: number; tx: number } {
  let entries: string[];
  try {
    entries = fs.readdirSync(`/sys/class/net/${dev}/queues`);
  } catch {
    throw new UsageError(`no network interface named '${dev}' (in this network namespace)`);
  }
  return { rx: entries.filter(e => e.startsWith('rx-')).length, tx: entries.filter(e => e.startsWith('tx-')).length };
}

interface QueueRow { queue: number; packets: number; bytes: number; sizes: number[] }

function queueRows(entries: [number, QueueData][], queues: number): QueueRow[] {
  const byQueue = new Map(entries);
  return Array.from({ length: Math.max(queues, ...entries.map(([q]) => q + 1)) }, (_, queue) => {
    const d = byQueue.get(queue);
    return d
      ? { queue, packets: d.num_pkt, bytes: Number(d.total_pkt_len), sizes: [d.size_64B, d.size_512B, d.size_2K, d.size_16K, d.size_64K] }
      : { queue, packets: 0, bytes: 0, sizes: [0, 0, 0, 0, 0] };
  });
}

/** asctime()'s form of the local time, as BCC prints it: "Thu Sep 10 11:28:39 2020". */
const asctime = (d = new Date()) => strftime(`%a %b ${String(d.getDate()).padStart(2)} %H:%M:%S %Y`, d);

const average = (bytes: number, packets: number) => (packets ? bytes / packets : 0);

defineTool<Options>({
  name: 'netqtop',
  subsystem: 'net',
  description: 'Summarize packets per queue of a network interface, transmit and receive',
  ports: { bcc: 'tools/netqtop.py' },
  probes: { tp_btf: ['net_dev_start_xmit', 'netif_receive_skb'], raw_tp: ['net_dev_start_xmit', 'netif_receive_skb'] },
  output: 'counts',
  invocations: [{ args: ['-n', 'lo'], ends: 'ctrl-c' }, { args: ['-n', 'lo', '-t', '-i', '0.5'], ends: 'ctrl-c' }],
  records: () => ({ fields: ROW_FIELDS }),
  program,
  options: {
    name: opt.nic('the network interface to trace (required)'),
    interval: opt.interval('print interval, in seconds (default 1)'),
    throughput: opt.flag('t', 'also print bytes and packets per second (BPS, PPS)'),
  },
  examples: [
    ['netqtop -n lo', 'trace lo, print every second'],
    ['netqtop -n lo -i 3', 'print every 3 seconds'],
    ['netqtop -n eth0 -t', 'with throughput (BPS and PPS)'],
  ],

  async run({ opts, load, out, json, emit, intervals }) {
    // checked here, after the root check (an unprivileged run without -n says it needs root, as any tool)
    if (opts.name === undefined || opts.name === '') throw new UsageError('specify a network interface with -n NIC');
    const queues = queueCounts(opts.name);
    const bpf = load({ rodata: { targ_ifname: opts.name } });
    bpf.attachAll();
    const tx = bpf.map<number, QueueData>('tx_q');
    const rx = bpf.map<number, QueueData>('rx_q');
    process.stderr.write(`Tracing ${opts.name}'s queues... Hit Ctrl-C to end.\n`);

    const headers = ['QueueID', 'avg_size', ...SIZE_RANGES, ...(opts.throughput ? ['BPS', 'PPS'] : [])];
    const printTable = (rows: QueueRow[], seconds: number) => {
      out.line(' ' + headers.map(h => sprintf('%-11s', h)).join(''));
      const rates = (bytes: number, packets: number) => (opts.throughput ? sprintf('%-11s%-11s', toStr(bytes / seconds), toStr(packets / seconds)) : '');
      for (const r of rows) {
        out.line(sprintf(' %-11d%-11s', r.queue, toStr(average(r.bytes, r.packets))) + r.sizes.map(s => sprintf('%-11s', toStr(s))).join('') + rates(r.bytes, r.packets));
      }
      const bytes = rows.reduce((a, r) => a + r.bytes, 0);
      const packets = rows.reduce((a, r) => a + r.packets, 0);
      const sizes = SIZE_RANGES.map((_, i) => rows.reduce((a, r) => a + r.sizes[i]!, 0));
      out.line(sprintf(' Total      %-11s', toStr(average(bytes, packets))) + sizes.map(s => sprintf('%-11s', toStr(s))).join('') + rates(bytes, packets));
    };

    await intervals(opts.interval ?? 1, 99999999, (_last, seconds) => {
      const txRows = queueRows(tx.drain(), queues.tx);
      const rxRows = queueRows(rx.drain(), queues.rx);
      if (json) {
        const fields = (direction: string) => (r: QueueRow) => ({
          direction, queue: r.queue, packets: r.packets, bytes: r.bytes, avg_size: average(r.bytes, r.packets),
          ...Object.fromEntries(SIZE_FIELDS.map((f, i) => [f, r.sizes[i]])),
        });
        emit.counts(seconds, [...txRows.map(fields('tx')), ...rxRows.map(fields('rx'))], { interface: opts.name });
        return;
      }
      out.line(asctime());
      out.line('TX');
      printTable(txRows, seconds);
      out.line('');
      out.line('RX');
      printTable(rxRows, seconds);
      out.line('-'.repeat(opts.throughput ? 95 : 77));
    });
  },
});
