#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// soconnect: connect() calls on IPv4 and IPv6 sockets with the address and port asked for, the call's
// latency and its result (the book's soconnect.bt, chapter 10). At syscalls:sys_enter_connect the
// sockaddr is read from user memory, at sys_exit_connect the result is added (lib/host/connect-calls.ts,
// shared with udpconnect). A non-blocking connect returns at once with "In progress" (EINPROGRESS).
import { defineTool, opt } from '../../lib/cli/index.js';
import { familyOptions, oneFamily } from '../../lib/cli/net-options.js';
import { connectProgram, connectRodata, connectTarget, type ConnectEvent } from '../../lib/host/connect-calls.js';
import { familyFilter } from '../../lib/host/net.js';
import { errnoName } from '../../lib/host/errno.js';
import { sprintf } from '../../lib/output/index.js';

/** The book's words for connect(2)'s results (its err2str); other errors print their errno name. */
const RESULTS: Record<string, string> = {
  EPERM: 'Permission denied', EINTR: 'Interrupted', EBADF: 'Invalid sockfd', EAGAIN: 'Routing cache insuff.',
  EACCES: 'Perm. denied (EACCES)', EFAULT: 'Sock struct addr invalid', ENOTSOCK: 'FD not a socket',
  EPROTOTYPE: 'Socket protocol error', EAFNOSUPPORT: 'Address family invalid', EADDRINUSE: 'Local addr in use',
  EADDRNOTAVAIL: 'No port available', ENETUNREACH: 'Network unreachable', EISCONN: 'Already connected',
  ETIMEDOUT: 'Timeout', ECONNREFUSED: 'Connect refused', EALREADY: 'Not yet completed', EINPROGRESS: 'In progress',
};
const resultText = (errno: number) => (errno === 0 ? 'Success' : RESULTS[errnoName(errno) ?? ''] ?? errnoName(errno) ?? `errno ${errno}`);

interface Options { timestamp: boolean; pid?: number; ipv4: boolean; ipv6: boolean; failed: boolean; duration?: number }

const FIELDS = ['ts_ns', 'pid', 'tid', 'comm', 'ip', 'addr', 'port', 'lat_us', 'errno', 'result'];

defineTool<Options>({
  name: 'soconnect',
  subsystem: 'net',
  description: 'Trace IP socket connect() calls with their address, latency and result',
  ports: { book: 'originals/Ch10_Networking/soconnect.bt' },
  probes: { tracepoint: ['syscalls/sys_enter_connect', 'syscalls/sys_exit_connect'] },
  output: 'event',
  records: () => ({ fields: FIELDS }),
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-t', '-d', '3'], ends: 'itself' }],
  program: connectProgram,
  options: {
    timestamp: opt.flag('t', 'include timestamp on output'),
    pid: opt.pid(),
    ...familyOptions,
    failed: opt.flag('x', 'only show failed connect() calls (EINPROGRESS included)'),
    duration: opt.duration(),
  },
  examples: [
    ['soconnect', 'trace all IP connect() calls'],
    ['soconnect -t', 'include timestamps'],
    ['soconnect -p 181', 'only trace PID 181'],
    ['soconnect -6', 'only trace IPv6 connects'],
    ['soconnect -x', 'only show failed connects'],
  ],
  validate: oneFamily,

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: connectRodata(opts, familyFilter(opts)) });
    bpf.attachAll();
    if (json) banner('Tracing IP connect() calls. Ctrl-C to end.');
    else {
      out.line((opts.timestamp ? sprintf('%-9s ', 'TIME(s)') : '') + sprintf('%-6s %-16s FAM %-16s %-5s %8s %s', 'PID', 'PROCESS', 'ADDRESS', 'PORT', 'LAT(us)', 'RESULT'));
      out.flush();
    }
    let first: bigint | undefined;
    bpf.events<ConnectEvent>('events', 'connect_event', e => {
      const errno = e.ret < 0 ? -e.ret : 0;
      if (opts.failed && !errno) return;
      const { ip, addr, port } = connectTarget(e);
      const latUs = Number(e.lat_ns / 1000n);
      if (json) {
        emit.event({ pid: e.pid, tid: e.tid, comm: e.comm, ip, addr, port, lat_us: latUs, errno, result: resultText(errno) }, { tsNs: e.ts_ns });
        return;
      }
      first ??= e.ts_ns;
      out.line((opts.timestamp ? sprintf('%-9.3f ', Number(e.ts_ns - first) / 1e9) : '') +
        sprintf('%-6d %-16s %-3d %-16s %-5d %8d %s', e.pid, e.comm, ip, addr, port, latUs, resultText(errno)));
    });
    await untilExit(opts.duration);
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`soconnect: lost ${lost} events\n`);
  },
});
