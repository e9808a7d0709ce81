#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// udpconnect: connect() calls on UDP (datagram) sockets, with the address and port connected to (the
// book's udpconnect.bt, chapter 10). The book probes ip4/ip6_datagram_connect; without kprobes here the
// substitute is syscalls:sys_enter/exit_connect keeping only sockets whose type (fd -> file -> socket,
// CO-RE) is SOCK_DGRAM: soconnect's program (lib/host/connect-calls.ts) with that filter.
import { defineTool, opt } from '../../lib/cli/index.js';
import { connectProgram, connectRodata, connectTarget, type ConnectEvent } from '../../lib/host/connect-calls.js';
import { familyFilter } from '../../lib/host/net.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const SOCK_DGRAM = 2;

interface Options { pid?: number; ipv4: boolean; ipv6: boolean; duration?: number }

defineTool<Options>({
  name: 'udpconnect',
  subsystem: 'net',
  description: 'Trace UDP connect() calls',
  ports: { book: 'originals/Ch10_Networking/udpconnect.bt' },
  probes: { tracepoint: ['syscalls/sys_enter_connect', 'syscalls/sys_exit_connect'] },
  output: 'event',
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'ip', 'raddr', 'rport', 'errno'] }),
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-d', '3'], ends: 'itself' }],
  program: connectProgram,
  options: {
    pid: opt.pid(),
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
    duration: opt.duration(),
  },
  examples: [
    ['udpconnect', 'trace UDP connect() calls'],
    ['udpconnect -p 181', 'only trace PID 181'],
    ['udpconnect -4', 'only trace IPv4 connects'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: connectRodata(opts, familyFilter(opts), SOCK_DGRAM) });
    bpf.attachAll();
    process.stderr.write('udpconnect: no kprobes here: tracing UDP connect() at syscalls:sys_enter/exit_connect (socket type SOCK_DGRAM)\n');
    if (json) banner('Tracing UDP connect() calls. Ctrl-C to end.');
    else {
      out.line(sprintf('%-8s %-6s %-16s %-2s %-16s %-5s', 'TIME', 'PID', 'COMM', 'IP', 'RADDR', 'RPORT'));
      out.flush();
    }
    bpf.events<ConnectEvent>('events', 'connect_event', e => {
      const { ip, addr, port } = connectTarget(e);
      const errno = e.ret < 0 ? -e.ret : 0;
      if (json) emit.event({ pid: e.pid, comm: e.comm, ip, raddr: addr, rport: port, errno }, { tsNs: e.ts_ns });
      else out.line(sprintf('%-8s %-6d %-16s %-2d %-16s %-5d', strftimeHMS(), e.pid, e.comm, ip, addr, port));
    });
    await untilExit(opts.duration);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`udpconnect: lost ${lost} events\n`);
  },
});
