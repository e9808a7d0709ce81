// bench/wave-tcpmore: the per-event cost of tcpmore's BPF programs (sslsnoop, tcpsubnet, tcpwin) against
// bpftrace running the equivalent script on the same workload, side by side, from the kernel's own
// accounting (kernel.bpf_stats_enabled: run_time_ns / run_cnt per program). Workloads: 20 curls to an
// `openssl s_server` on loopback (sslsnoop's uprobes), and 3000 small sends on a loopback session (the
// sock_send_length and tcp_probe tracepoints).
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
try {
  await new Promise(r => setTimeout(r, 500));
  const lines = await withBpfStats(async () => [
    await measure('sslsnoop (uprobe + uretprobe on SSL_read/SSL_write/SSL_do_handshake)', [ours('sslsnoop'),
      bpftrace('sslsnoop.bt', `BEGIN { printf("Tracing SSL/TLS handshake... Hit Ctrl-C to end.\\n"); } uprobe:${SSL}:SSL_read, uprobe:${SSL}:SSL_write, uprobe:${SSL}:SSL_do_handshake { @start_ssl[tid] = nsecs; @func_ssl[tid] = func; } uretprobe:${SSL}:SSL_read, uretprobe:${SSL}:SSL_write, uretprobe:${SSL}:SSL_do_handshake /@start_ssl[tid] != 0/ { printf("%-10u %-8d %-8s %7u %5d %s\\n", elapsed/1000, tid, comm, (nsecs - @start_ssl[tid])/1000, retval, @func_ssl[tid]); delete(@start_ssl[tid]); delete(@func_ssl[tid]); }`)],
    curls, READY),
    await measure('tcpsubnet (sock:sock_send_length, the destination read from the socket)', [ours('tcpsubnet', ['127.0.0.1/32,0.0.0.0/0']),
      bpftrace('tcpsubnet', 'BEGIN { printf("Tracing... Hit Ctrl-C to end\\n"); } tracepoint:sock:sock_send_length /args->protocol == 6 && args->ret > 0/ { $sk = (struct sock *)args->sk; @[ntop($sk->__sk_common.skc_daddr)] = sum(args->ret); }')],
    sends, READY),
    await measure('tcpwin (tcp:tcp_probe, one event per segment received)', [ours('tcpwin'),
      bpftrace('tcpwin.bt', 'BEGIN { printf("Tracing... Hit Ctrl-C to end\\n"); } tracepoint:tcp:tcp_probe { $sk = (struct sock *)args->skaddr; printf("rcv,0x%llx,%lld,%d,%d,%d,%d\\n", args->skaddr, elapsed / 1000, args->snd_cwnd, args->ssthresh, $sk->sk_sndbuf, $sk->sk_wmem_queued); }')],
    sends, READY),
  ]);
  for (const l of lines) process.stdout.write(`wave-tcpmore: ${l}\n`);
} finally {
  server.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}
