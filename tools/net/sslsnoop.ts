#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// sslsnoop: each OpenSSL handshake, read and write call and the crypto work under it, with its latency and
// return value (bpftrace's sslsnoop.bt), with uprobes and uretprobes, natively here. The per-call work is
// kept small (a start time by thread, one small event at return). -p traces one process's libraries only.
import { defineTool, opt } from '../../lib/cli/index.js';
import { attachSslCalls, SSL_FUNCTIONS, sslCallsProgram, sslProbes } from '../../lib/cli/ssl-calls.js';
import { sprintf } from '../../lib/output/index.js';

interface Options { pid?: number }

interface CallEvent { ts_ns: bigint; lat_ns: bigint; ret: bigint; tid: number; func: number; comm: string }

defineTool<Options>({
  name: 'sslsnoop',
  subsystem: 'net',
  description: 'Trace SSL/TLS handshake for OpenSSL',
  ports: { bpftrace: 'tools/sslsnoop.bt' },
  probes: sslProbes,
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['tid', 'comm', 'lat_us', 'ret', 'func', 'ts_ns'] }),
  program: sslCallsProgram,
  options: {
    pid: opt.pid('trace this PID only (its libssl and libcrypto)'),
  },
  examples: [
    ['sslsnoop', 'trace SSL/TLS handshake, read and write calls, printing one line per call'],
    ['sslsnoop -p 181', 'trace PID 181 only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit, monotonicNs }) {
    const bpf = load({ rodata: { histograms: false } });
    attachSslCalls(bpf, 'sslsnoop', opts.pid);
    banner('Tracing SSL/TLS handshake... Hit Ctrl-C to end.');
    if (!json) out.line(sprintf('%-10s %-8s %-8s %7s %5s %s', 'TIME(us)', 'TID', 'COMM', 'LAT(us)', 'RET', 'FUNC'));
    const startNs = monotonicNs(); // bpftrace's elapsed: since the tool started
    bpf.events<CallEvent>('events', 'event', e => {
      const func = SSL_FUNCTIONS[e.func]?.[1] ?? String(e.func);
      const latUs = Number(e.lat_ns / 1000n);
      if (json) {
        emit.event({ tid: e.tid, comm: e.comm, lat_us: latUs, ret: Number(e.ret), func }, { tsNs: e.ts_ns });
        return;
      }
      const elapsedUs = e.ts_ns > startNs ? (e.ts_ns - startNs) / 1000n : 0n;
      out.line(sprintf('%-10d %-8d %-8s %7d %5d %s', elapsedUs, e.tid, e.comm, latUs, Number(e.ret), func));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`sslsnoop: lost ${lost} events\n`);
  },
});
