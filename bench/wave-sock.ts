// bench/wave-sock: the per-event cost (bpf_stats: run_time_ns / run_cnt) of the book's socket tools
// (sockstat, socketio, socksize, sormem, sofamily, soprotocol) side by side with bpftrace running the
// book's program on the same events, where bpftrace can here: the book's kprobes on sock_sendmsg/
// sock_recvmsg become the sock:sock_send_length/sock_recv_length tracepoints ours use (libbpf-tools has
// none of these tools). Workloads: a python3 UDP ping-pong of 20 000 datagrams on the loopback (a send
// and a receive each), and 2000 loopback TCP connections (a connect and an accept each).
import { spawnSync } from 'node:child_process';
import { bpftrace, measure, ours, withBpfStats } from './lib/bpf-stats.js';

const pingPong = () => void spawnSync('python3', ['-c', `import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(r.getsockname())
for i in range(20000):
    s.send(b"x" * 100); r.recv(100)`]);
const connections = () => void spawnSync('python3', ['-c', `import socket
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(64)
for i in range(2000):
    c = socket.create_connection(l.getsockname()); a, _ = l.accept(); c.close(); a.close()`]);

const BEGIN = 'BEGIN { printf("Tracing\\n"); } ';
const sk = '$sk = (struct sock *)args->sk;';

await withBpfStats(async () => {
  const lines = [
    await measure('sockstat (syscalls and sock:sock_send_length/recv_length counters)', [ours('sockstat'), bpftrace('sockstat.bt', ['-e', BEGIN +
      'tracepoint:syscalls:sys_enter_accept*, tracepoint:syscalls:sys_enter_connect, tracepoint:syscalls:sys_enter_bind, tracepoint:syscalls:sys_enter_socket*, ' +
      'tracepoint:sock:sock_send_length, tracepoint:sock:sock_recv_length { @[probe] = count(); }'])], pingPong),
    await measure('socketio (calls and bytes by process, direction, protocol, port; the book\'s counts calls only)', [ours('socketio'), bpftrace('socketio.bt', ['-e', BEGIN +
      `tracepoint:sock:sock_recv_length { ${sk} @io[comm, pid, "read", $sk->__sk_common.skc_prot->name, $sk->__sk_common.skc_dport] = count(); } ` +
      `tracepoint:sock:sock_send_length { ${sk} @io[comm, pid, "write", $sk->__sk_common.skc_prot->name, $sk->__sk_common.skc_dport] = count(); }`])], pingPong),
    await measure('socksize (size histograms by comm)', [ours('socksize'), bpftrace('socksize.bt', ['-e', BEGIN +
      'tracepoint:sock:sock_recv_length /args->ret >= 0/ { @read_bytes[comm] = hist(args->ret); } ' +
      'tracepoint:sock:sock_send_length /args->ret >= 0/ { @write_bytes[comm] = hist(args->ret); }'])], pingPong),
    await measure('sormem (rmem_alloc and rcvbuf histograms at each receive)', [ours('sormem'), bpftrace('sormem.bt', ['-e', BEGIN +
      `tracepoint:sock:sock_recv_length { ${sk} @rmem_alloc = hist($sk->sk_backlog.rmem_alloc.counter); @rmem_limit = hist($sk->sk_rcvbuf & 0xffffffff); }`])], pingPong),
    await measure('sofamily (connect at entry, accept at exit)', [ours('sofamily'), bpftrace('sofamily.bt', ['-e', BEGIN +
      'tracepoint:syscalls:sys_enter_connect { @connect[comm, args->uservaddr->sa_family] = count(); } ' +
      'tracepoint:syscalls:sys_enter_accept, tracepoint:syscalls:sys_enter_accept4 { @sockaddr[tid] = args->upeer_sockaddr; } ' +
      'tracepoint:syscalls:sys_exit_accept, tracepoint:syscalls:sys_exit_accept4 /@sockaddr[tid]/ { if (args->ret > 0) { ' +
      '$sa = (struct sockaddr *)@sockaddr[tid]; @accept[comm, $sa->sa_family] = count(); } delete(@sockaddr[tid]); }'])], connections),
    // the book's reads the socket at kprobes on security_socket_connect/accept: no bpftrace equivalent here
    await measure('soprotocol (the sock behind the fd; the book\'s needs kprobes: bpftrace cannot here)', [ours('soprotocol')], connections),
  ];
  for (const l of lines) process.stdout.write(`wave-sock: ${l}\n`);
});
