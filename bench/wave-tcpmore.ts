// bench/wave-tcpmore: the per-event cost of tcpmore's BPF programs (sslsnoop, ssllatency, tcpsubnet, tcpwin,
// tcppktlat, tcpcong) against bpftrace running the equivalent script (its own ssllatency.bt) on the same
// workload, side by side, from the kernel's own accounting (kernel.bpf_stats_enabled: run_time_ns / run_cnt
// per program). Workloads: 20 curls to an `openssl s_server` on loopback (the SSL uprobes), 3000 small
// sends on a loopback session (the sock_send_length and tcp_probe tracepoints, and the read side's
// tcp_rcv_space_adjust), and a 4 MB transfer in a namespace of its own whose nftables rule drops every
// 5th data segment (tcp_cong_state_set: recovery and loss, and back).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { measure, ours, start, withBpfStats } from './lib/bpf-stats.js';

const bpftrace = (name: string, program: string) => start(`bpftrace ${name}`, 'bpftrace', ['-e', program]);
const READY = /Hit Ctrl-C|Tracing/;

const dir = fs.mkdtempSync('/var/tmp/bpfkit-bench-tcpmore-');
const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost',
  '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
const TLS_PORT = 9071;
const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${TLS_PORT}`, '-cert', cert, '-key', key, '-www', '-quiet'], { stdio: 'ignore' });
const curls = () => { for (let i = 0; i < 20; i++) spawnSync('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${TLS_PORT}/`]); };
const sends = () => void spawnSync('python3', ['-c', `import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
for i in range(3000):
    c.send(b"x" * 100); a.recv(1000)`]);
const SSL = '/lib/x86_64-linux-gnu/libssl.so.3';

// the lossy transfer: both ends in one namespace, on its loopback
const NS = `bkbench-cong${process.pid}`;
const CONG_PORT = 9078;
const inNs = (args: string[], input?: string) => {
  const r = spawnSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8', input, timeout: 120000 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} in ${NS}: ${r.stderr}`);
};
spawnSync('ip', ['netns', 'add', NS]);
inNs(['ip', 'link', 'set', 'lo', 'up']);
inNs(['nft', '-f', '-'], `table inet bench {\n chain input {\n  type filter hook input priority 0;\n  tcp dport ${CONG_PORT} tcp flags & (syn | fin) == 0 meta length > 100 numgen inc mod 5 0 drop\n }\n}\n`);
const lossyTransfer = () => inNs(['python3', '-c', `import socket, threading
s = socket.socket(); s.bind(("127.0.0.1", ${CONG_PORT})); s.listen(1)
def sink():
    a, _ = s.accept()
    while a.recv(65536): pass
t = threading.Thread(target=sink); t.start()
c = socket.create_connection(("127.0.0.1", ${CONG_PORT}))
for i in range(256): c.sendall(b"x" * 16384)
c.close(); t.join()`]);

// bpftrace's scripts of the same design as ours: tcppktlat's segment stamped at tcp_probe by the sequence
// number past its data, found at tcp_rcv_space_adjust by copied_seq; tcpcong's stays by state
const TCPPKTLAT_BT = `BEGIN { printf("Tracing... Hit Ctrl-C to end\\n"); }
tracepoint:tcp:tcp_probe /args->data_len > 0/ { $th = (struct tcphdr *)((struct sk_buff *)args->skbaddr)->data; $s = (uint64)$th->seq;
  $seq = (($s & 0xff) << 24) | (($s & 0xff00) << 8) | (($s >> 8) & 0xff00) | (($s >> 24) & 0xff);
  @arrived[args->skaddr, ($seq + args->data_len) & 0xffffffff] = nsecs; }
tracepoint:tcp:tcp_rcv_space_adjust { $k = (uint64)((struct tcp_sock *)args->skaddr)->copied_seq; $t = @arrived[args->skaddr, $k];
  if ($t) { printf("%-7d %-7d %-16s %d\\n", pid, tid, comm, (nsecs - $t) / 1000); delete(@arrived[args->skaddr, $k]); } }
tracepoint:tcp:tcp_destroy_sock { delete(@arrived[args->skaddr, (uint64)((struct tcp_sock *)args->skaddr)->copied_seq]); }`;
const TCPCONG_BT = `BEGIN { printf("Tracing tcp congestion control status duration... Hit Ctrl-C to end.\\n"); }
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->newstate == 1/ { @since[args->skaddr] = nsecs; @state[args->skaddr] = 0; }
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->oldstate == 1 && @since[args->skaddr]/ {
  @us[args->sport, args->dport, @state[args->skaddr]] = sum((nsecs - @since[args->skaddr]) / 1000);
  @dist[@state[args->skaddr]] = hist((nsecs - @since[args->skaddr]) / 1000000); delete(@since[args->skaddr]); delete(@state[args->skaddr]); }
tracepoint:tcp:tcp_cong_state_set /@since[args->skaddr] && (uint64)args->cong_state != @state[args->skaddr]/ {
  @us[args->sport, args->dport, @state[args->skaddr]] = sum((nsecs - @since[args->skaddr]) / 1000); @changes[args->sport, args->dport] = count();
  @dist[@state[args->skaddr]] = hist((nsecs - @since[args->skaddr]) / 1000000); @since[args->skaddr] = nsecs; @state[args->skaddr] = args->cong_state; }`;
try {
  await new Promise(r => setTimeout(r, 500));
  const lines = await withBpfStats(async () => [
    await measure('sslsnoop (uprobe + uretprobe on SSL_read/SSL_write/SSL_do_handshake)', [ours('sslsnoop'),
      bpftrace('sslsnoop.bt', `BEGIN { printf("Tracing SSL/TLS handshake... Hit Ctrl-C to end.\\n"); } uprobe:${SSL}:SSL_read, uprobe:${SSL}:SSL_write, uprobe:${SSL}:SSL_do_handshake { @start_ssl[tid] = nsecs; @func_ssl[tid] = func; } uretprobe:${SSL}:SSL_read, uretprobe:${SSL}:SSL_write, uretprobe:${SSL}:SSL_do_handshake /@start_ssl[tid] != 0/ { printf("%-10u %-8d %-8s %7u %5d %s\\n", elapsed/1000, tid, comm, (nsecs - @start_ssl[tid])/1000, retval, @func_ssl[tid]); delete(@start_ssl[tid]); delete(@func_ssl[tid]); }`)],
    curls, READY),
    await measure('tcpsubnet (sock:sock_send_length, the destination read from the socket)', [ours('tcpsubnet', ['127.0.0.1/32,0.0.0.0/0']),
      bpftrace('tcpsubnet', 'BEGIN { printf("Tracing... Hit Ctrl-C to end\\n"); } tracepoint:sock:sock_send_length /args->protocol == 6 && args->ret > 0/ { $sk = (struct sock *)args->sk; @[ntop($sk->__sk_common.skc_daddr)] = sum(args->ret); }')],
    sends, READY),
    await measure('ssllatency (uprobe + uretprobe on the SSL calls and the crypto under them, histograms in the kernel)', [ours('ssllatency'),
      start('bpftrace ssllatency.bt', 'bpftrace', ['/usr/sbin/ssllatency.bt'])],
    curls, READY),
    await measure('tcppktlat (tcp_probe stamps, tcp_rcv_space_adjust finds: an event per segment read)', [ours('tcppktlat'),
      bpftrace('tcppktlat', TCPPKTLAT_BT)],
    sends, READY),
    await measure('tcpcong (tcp:tcp_cong_state_set and sock:inet_sock_set_state, a lossy transfer)', [ours('tcpcong', ['-d']),
      bpftrace('tcpcong', TCPCONG_BT)],
    lossyTransfer, READY),
    await measure('tcpwin (tcp:tcp_probe, one event per segment received)', [ours('tcpwin'),
      bpftrace('tcpwin.bt', 'BEGIN { printf("Tracing... Hit Ctrl-C to end\\n"); } tracepoint:tcp:tcp_probe { $sk = (struct sock *)args->skaddr; printf("rcv,0x%llx,%lld,%d,%d,%d,%d\\n", args->skaddr, elapsed / 1000, args->snd_cwnd, args->ssthresh, $sk->sk_sndbuf, $sk->sk_wmem_queued); }')],
    sends, READY),
  ]);
  for (const l of lines) process.stdout.write(`wave-tcpmore: ${l}\n`);
} finally {
  server.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', NS]);
  fs.rmSync(dir, { recursive: true, force: true });
}
