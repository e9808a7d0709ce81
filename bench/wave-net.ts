// bench/wave-net: the net wave's TCP tools under a storm of short loopback connections, inside a network
// namespace of its own (a C program: a server that accepts and closes, a client that connects and closes).
// 1. Per-event cost (bpf_stats: run_time_ns / run_cnt) of tcpstates and tcplife side by side with
//    libbpf-tools' on the same connections, and ours / theirs; gethostlatency beside libbpf-tools' on the
//    same getaddrinfo() calls.
// 2. Keeping up: tcplife and tcptop at the storm's full rate (the bench prints the rate it reached: 20,000
//    connections a second is the aim, which two shared cores may not give): the sessions tcplife printed
//    against those made, and the events it says it lost.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { measure, measureInTurns, sleep, start, withBpfStats, type Tracer } from './lib/bpf-stats.js';

const PORT = 9099;
const GENERATOR = `
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), with_byte = argc > 2, one = 1;
	char byte = 'x';
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(${PORT}), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (void *)&a, sizeof(a)) || listen(l, 4096))
		return 1;
	if (fork() == 0) {
		for (int i = 0; i < n; i++) {
			int s = accept(l, 0, 0);
			if (with_byte)
				read(s, &byte, 1);
			close(s);
		}
		_exit(0);
	}
	struct linger lg = { 1, 0 };   /* close with RST: no TIME_WAIT to run out of ports */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(c, (void *)&a, sizeof(a)))
			return 2;
		if (with_byte)
			write(c, &byte, 1);
		close(c);
	}
	wait(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%d %.3f\\n", n, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
`;

const dir = fs.mkdtempSync('/var/tmp/bpfkit-bench-wavenet-');
const ns = `bkbench${process.pid}`;
const generator = path.join(dir, 'connections');
fs.writeFileSync(`${generator}.c`, GENERATOR);
const cc = spawnSync('gcc', ['-O2', '-o', generator, `${generator}.c`], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(cc.stderr);

// getaddrinfo("localhost") 10,000 times, answered from /etc/hosts: one uprobe and one uretprobe each
// (2,000 gave too few runs to tell the two tools apart on a loaded machine)
const resolver = path.join(dir, 'lookups');
fs.writeFileSync(`${resolver}.c`, '#include <netdb.h>\nint main(void)\n{\n\tfor (int i = 0; i < 10000; i++) {\n\t\tstruct addrinfo *r;\n\t\tif (getaddrinfo("localhost", 0, 0, &r) == 0) freeaddrinfo(r);\n\t}\n\treturn 0;\n}\n');
const rc = spawnSync('gcc', ['-O2', '-o', resolver, `${resolver}.c`], { encoding: 'utf8' });
if (rc.status !== 0) throw new Error(rc.stderr);
const lookups = () => void spawnSync(resolver, { stdio: 'ignore' });
/**
 * n connections in the namespace (each sending one byte, withByte); the rate reached. Not spawnSync:
 * this process must go on reading the tracers' output meanwhile, or a tracer blocks writing to a full
 * pipe and stops draining its ring buffer (events lost through no fault of its own).
 */
function storm(n: number, withByte = false): Promise<{ n: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, generator, String(n), ...(withByte ? ['1'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout!.on('data', d => (out += d));
    c.stderr!.on('data', d => (err += d));
    c.on('exit', code => {
      if (code !== 0) return reject(new Error(`connection generator: ${code} ${err}`));
      const [made, seconds] = out.trim().split(' ').map(Number);
      resolve({ n: made!, seconds: seconds! });
    });
  });
}

const ours = (tool: string, args: string[] = [], ready?: RegExp) =>
  start(`bpfkit ${tool}`, path.join(projectRoot, 'bin', 'bpfkit-node'), [path.join(projectRoot, 'tools', 'net', `${tool}.ts`), ...args], ready);
const reference = (tool: string, args: string[] = [], ready?: RegExp) => start(`libbpf-tools ${tool}`, 'stdbuf', ['-oL', `/usr/sbin/${tool}`, ...args], ready);
const header = /PID +COMM|SKADDR/;

async function stopped(ts: Tracer[]): Promise<void> {
  for (const t of ts) t.child.kill('SIGINT');
  await Promise.all(ts.map(t => new Promise(r => (t.child.exitCode !== null ? r(0) : t.child.on('exit', r)))));
}

spawnSync('ip', ['netns', 'add', ns]);
spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
try {
  const lines: string[] = [];
  await withBpfStats(async () => {
    lines.push(await measure('tcpstates (inet_sock_set_state, 5,000 connections)', [ours('tcpstates', [], header), reference('tcpstates', [], header)], async () => void (await storm(5000))));
    lines.push(await measure('tcplife (inet_sock_set_state, 5,000 connections)', [ours('tcplife', [], header), reference('tcplife', [], header)], async () => void (await storm(5000))));
    lines.push(await measure('tcptracer (inet_sock_set_state + accept exits; libbpf-tools\' needs kprobes)', [ours('tcptracer', [], header)], async () => void (await storm(5000))));
    lines.push(await measure('tcptop (sock_send/recv_length, 5,000 connections of one byte; libbpf-tools\' needs kprobes)', [ours('tcptop', ['-C', '99'], /Tracing/)], async () => void (await storm(5000, true))));
    // in turns, not side by side: both on one uprobe, whichever runs first pays the cold caches
    lines.push(await measureInTurns('gethostlatency (uprobe + uretprobe on libc getaddrinfo, 10,000 lookups of localhost)',
      [() => ours('gethostlatency', [], /TIME|Tracing/), () => reference('gethostlatency', [], /TIME|Tracing/)], lookups));
  });
  // keeping up: tcplife and tcptop at full rate, each session made in the namespace printed once
  const life = ours('tcplife', [], header);
  const top = ours('tcptop', ['--json', '99'], /Tracing/);
  for (const t of [life, top]) for (let i = 0; i < 600 && !t.ready!.test(t.output()); i++) await sleep(50);
  const s = await storm(20000, true);
  await sleep(1000);
  await stopped([life, top]);
  const printed = life.output().split('\n').filter(l => / 127\.0\.0\.1 +\d+ +127\.0\.0\.1 +\d+ /.test(l)).length;
  const lost = /lost (\d+) events/.exec(life.output())?.[1] ?? '0';
  lines.push(`tcplife at ${(s.n / s.seconds).toFixed(0)} connections/s (${s.n} in ${s.seconds.toFixed(2)} s): ${printed} sessions printed of ${2 * s.n} ends (client and server), ${lost} events reported lost`);
  // tcptop counts in maps, not events: nothing is lost unless a map fills (it says so on stderr). Ports are
  // reused within the storm, so rows merge: the bytes are the measure.
  const rows = top.output().split('\n').filter(l => l.startsWith('{')).flatMap(l => JSON.parse(l).rows as { rport: number; tx_bytes: number }[]);
  const sent = rows.filter(r => r.rport === PORT).reduce((a, r) => a + r.tx_bytes, 0);
  const missed = /(\d+) sends\/receives not counted/.exec(top.output())?.[1] ?? '0';
  lines.push(`tcptop alongside: ${sent} bytes sent to the server port counted (of ${s.n}: one per connection), ${missed} calls reported not counted, exit ${top.child.exitCode}`);
  for (const l of lines) process.stdout.write(`wave-net: ${l}\n`);
} finally {
  spawnSync('ip', ['netns', 'del', ns]);
  fs.rmSync(dir, { recursive: true, force: true });
}
