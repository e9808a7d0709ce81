// bench/wave-soconn: the per-event cost of the soconn tools' BPF programs against bpftrace running the
// book's programs (chapter 10: soconnect.bt, soaccept.bt, so1stbyte.bt, soconnlat.bt without its
// stacks) on the same loopback workload, from the kernel's own accounting (kernel.bpf_stats_enabled:
// run_time_ns and run_cnt per program). Each pair runs side by side, so both see the same events.
// The bpftrace programs are written here after the book's, with the numbers of AF_INET (2), AF_INET6
// (10) and EINPROGRESS (115): bpftrace has no headers here.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { bpftrace, measure, ours, withBpfStats } from './lib/bpf-stats.js';

const peer = path.join(projectRoot, 'test', 'fixtures', 'soconn-peer.py');
const SESSIONS = 1500;
let port = 9300;
/** SESSIONS loopback sessions: connect, accept, a first byte read (the fixture's listen/firstbyte). */
const sessions = () => {
  const p = String(port++);
  const server = spawnSync('sh', ['-c', `python3 ${peer} listen ${p} ${SESSIONS} >/dev/null & sleep 0.5; python3 ${peer} firstbyte 4 127.0.0.1 ${p} ${SESSIONS} >/dev/null; wait`]);
  if (server.status !== 0) throw new Error(`workload: ${server.stderr}`);
};

const IP_CONNECT = 'tracepoint:syscalls:sys_enter_connect /args->uservaddr->sa_family == 2 || args->uservaddr->sa_family == 10/';
const soconnect = `${IP_CONNECT} { @sockaddr[tid] = args->uservaddr; @start[tid] = nsecs; }
tracepoint:syscalls:sys_exit_connect /@start[tid]/ {
  $s = (struct sockaddr_in *)@sockaddr[tid];
  printf("%-6d %-16s %-3d %-16s %-5d %8d %d\\n", pid, comm, $s->sin_family, ntop(2, $s->sin_addr.s_addr),
    ($s->sin_port >> 8) | (($s->sin_port << 8) & 0xff00), (nsecs - @start[tid]) / 1000, - args->ret);
  delete(@sockaddr[tid]); delete(@start[tid]);
}
BEGIN { printf("Tracing IP connect() calls\\n"); }`;
const soaccept = `tracepoint:syscalls:sys_enter_accept, tracepoint:syscalls:sys_enter_accept4 { @sockaddr[tid] = args->upeer_sockaddr; }
tracepoint:syscalls:sys_exit_accept, tracepoint:syscalls:sys_exit_accept4 /@sockaddr[tid]/ {
  $sa = (struct sockaddr_in *)@sockaddr[tid];
  $error = args->ret > 0 ? 0 : - args->ret;
  if ($sa->sin_family == 2) {
    printf("%-6d %-16s %-3d %-16s %-5d %d\\n", pid, comm, 2, ntop(2, $sa->sin_addr.s_addr), ($sa->sin_port >> 8) | (($sa->sin_port << 8) & 0xff00), $error);
  } else if ($sa->sin_family == 10) {
    $s6 = (struct sockaddr_in6 *)@sockaddr[tid];
    printf("%-6d %-16s %-3d %-16s %-5d %d\\n", pid, comm, 10, ntop(10, $s6->sin6_addr.in6_u.u6_addr8), ($s6->sin6_port >> 8) | (($s6->sin6_port << 8) & 0xff00), $error);
  }
  delete(@sockaddr[tid]);
}
BEGIN { printf("Tracing IP accept() calls\\n"); }`;
const so1stbyte = `${IP_CONNECT} { @connfd[tid] = args->fd; @connstart[pid, args->fd] = nsecs; }
tracepoint:syscalls:sys_exit_connect { if (args->ret != 0 && args->ret != -115) { delete(@connstart[pid, @connfd[tid]]); } delete(@connfd[tid]); }
tracepoint:syscalls:sys_enter_close /@connstart[pid, args->fd]/ { delete(@connstart[pid, args->fd]); }
tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_readv, tracepoint:syscalls:sys_enter_pread*,
tracepoint:syscalls:sys_enter_recvfrom, tracepoint:syscalls:sys_enter_recvmsg, tracepoint:syscalls:sys_enter_recvmmsg
/@connstart[pid, args->fd]/ { @readfd[tid] = args->fd; }
tracepoint:syscalls:sys_exit_read, tracepoint:syscalls:sys_exit_readv, tracepoint:syscalls:sys_exit_pread*,
tracepoint:syscalls:sys_exit_recvfrom, tracepoint:syscalls:sys_exit_recvmsg, tracepoint:syscalls:sys_exit_recvmmsg
/@readfd[tid]/ { $fd = @readfd[tid]; @us[comm, pid] = hist((nsecs - @connstart[pid, $fd]) / 1000); delete(@connstart[pid, $fd]); delete(@readfd[tid]); }
BEGIN { printf("Tracing IP socket first-read-byte latency\\n"); }`;
const soconnlat = `${IP_CONNECT} { @conn_start[tid] = nsecs; }
tracepoint:syscalls:sys_exit_connect /@conn_start[tid] && args->ret != -115/ { @us[comm] = hist((nsecs - @conn_start[tid]) / 1000); delete(@conn_start[tid]); }
tracepoint:syscalls:sys_exit_poll*, tracepoint:syscalls:sys_exit_epoll*, tracepoint:syscalls:sys_exit_select*, tracepoint:syscalls:sys_exit_pselect*
/@conn_start[tid] && args->ret > 0/ { @us[comm] = hist((nsecs - @conn_start[tid]) / 1000); delete(@conn_start[tid]); }
BEGIN { printf("Tracing IP connect() latency\\n"); }`;

await withBpfStats(async () => {
  const lines: string[] = [];
  lines.push(await measure('soconnect (sys_enter/exit_connect)', [ours('soconnect'), bpftrace('soconnect.bt', ['-e', soconnect])], sessions));
  lines.push(await measure('soaccept (sys_enter/exit_accept, accept4)', [ours('soaccept'), bpftrace('soaccept.bt', ['-e', soaccept])], sessions));
  lines.push(await measure('so1stbyte (connect, close and 8 read syscalls, entry and exit)', [ours('so1stbyte'), bpftrace('so1stbyte.bt', ['-e', so1stbyte])], sessions));
  lines.push(await measure('soconnlat (connect, 7 poll/epoll/select exits)', [ours('soconnlat'), bpftrace('soconnlat.bt', ['-e', soconnlat])], sessions));
  for (const l of lines) process.stdout.write(`wave-soconn: ${l}\n`);
});
