#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// ssllatency: the latency of OpenSSL's handshake, read and write calls and the crypto work under them, as
// linear histograms by function (bpftrace's ssllatency.bt): @hist/@stat for the calls that succeeded
// (returned 1 or more), @histF/@statF for the failed ones (a non-blocking handshake that must wait
// returns -1), printed on Ctrl-C. Uprobes and uretprobes, natively here; in-kernel counting only.
import { defineTool, opt } from '../../lib/cli/index.js';
import { attachSslCalls, SSL_FUNCTIONS, sslCallsProgram, sslProbes } from '../../lib/cli/ssl-calls.js';
import { formatBpftraceLinear, linearHistJson } from '../../lib/output/index.js';

const SLOT_US = 200, SLOTS = 6; // lhist(us, 0, 1000, 200): the last slot holds 1000 and more

interface Options { pid?: number }
interface HistKey { func: number; failed: number; slot: bigint }
interface StatKey { func: number; failed: number }

defineTool<Options>({
  name: 'ssllatency',
  subsystem: 'net',
  description: 'Trace SSL/TLS handshake for OpenSSL: latency histograms and stats',
  ports: { bpftrace: 'tools/ssllatency.bt' },
  probes: sslProbes,
  output: 'histogram',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'func' }),
  program: sslCallsProgram,
  options: {
    pid: opt.pid('trace this PID only (its libssl and libcrypto)'),
  },
  examples: [
    ['ssllatency', 'summarize SSL/TLS call latency as histograms, printed on Ctrl-C'],
    ['ssllatency -p 181', 'PID 181 only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { histograms: true } });
    attachSslCalls(bpf, 'ssllatency', opts.pid);
    banner('Tracing SSL/TLS handshake... Hit Ctrl-C to end.');
    await untilExit();
    // (func, failed) -> slots, and their count and total
    const groups = new Map<string, { func: string; failed: boolean; slots: number[]; count: number; totalUs: number }>();
    const group = (k: StatKey) => {
      const id = `${k.func}/${k.failed}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { func: SSL_FUNCTIONS[k.func]?.[1] ?? String(k.func), failed: !!k.failed, slots: Array(SLOTS).fill(0), count: 0, totalUs: 0 }));
      return g;
    };
    for (const [k, v] of bpf.map<HistKey, bigint>('latency').entries()) group(k).slots[Number(k.slot)] += Number(v);
    for (const [k, v] of bpf.map<StatKey, { count: bigint; total_us: bigint }>('stats').entries()) {
      Object.assign(group(k), { count: Number(v.count), totalUs: Number(v.total_us) });
    }
    const list = [...groups.values()].sort((a, b) => a.func.localeCompare(b.func));
    if (json) {
      emit.histogram({ val_type: 'usecs', scale: 'linear', section_by: 'func', sections: list.map(g => {
        const h = linearHistJson(g.slots, 'usecs', 0, SLOT_US);
        return { key: g.func, failed: g.failed, total: h.total, buckets: h.buckets, count: g.count, total_us: g.totalUs,
          average_us: g.count ? Math.floor(g.totalUs / g.count) : 0 };
      }) });
      return;
    }
    out.line('');
    for (const failed of [false, true]) {
      for (const g of list.filter(x => x.failed === failed)) {
        const text = formatBpftraceLinear(g.slots, `${failed ? 'histF' : 'hist'}[${g.func}]`, 0, SLOT_US);
        out.write(text.replace(`[${SLOTS * SLOT_US - SLOT_US}, ${SLOTS * SLOT_US})`.padEnd(16), `[${(SLOTS - 1) * SLOT_US}, ...)`.padEnd(16)));
      }
    }
    for (const failed of [false, true]) {
      for (const g of list.filter(x => x.failed === failed)) {
        out.line(`@${failed ? 'statF' : 'stat'}[${g.func}]: count ${g.count}, average ${g.count ? Math.floor(g.totalUs / g.count) : 0}, total ${g.totalUs}`);
      }
    }
  },
});
