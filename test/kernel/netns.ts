// The test network of the TCP tools: two network namespaces of this test process joined by a veth pair
// (IPv4 10.201.0.0/24 and IPv6 fd00:201::/64), so sessions between them are known and nothing leaves the
// machine. Every namespace made is removed after the test file, and on exit if the file dies first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findToolFile, root, track, type Running } from './helpers.js';

const fixture = path.join(root, 'test', 'fixtures', 'tcp-peer.mjs');

export interface Peer {
  child: ChildProcess;
  pid: number;
  comm: string;
  /** Lines printed so far. */
  lines(): string[];
  /** Resolves when the peer has printed `count` lines matching re (rejects after ms). */
  waitLines(re: RegExp, count: number, ms?: number): Promise<RegExpMatchArray[]>;
  exited: Promise<number | null>;
}

export type PeerMode = 'server' | 'client' | 'echo' | 'sink' | 'pinger' | 'sender';

export interface TestNetwork {
  /** Each side's namespace, addresses and its end of the veth pair (`dev`, a name unique to this process). */
  server: { ns: string; v4: string; v6: string; dev: string };
  client: { ns: string; v4: string; v6: string; dev: string };
  /**
   * Starts tcp-peer.mjs in a namespace; resolves once it printed its PID (a server: once listening).
   * `mode` is the fixture's shape (default: the side's own): echo or sink servers, pinger or sender clients.
   */
  peer(side: 'server' | 'client', addr: string, port: number, sessions?: number, holdMs?: number, mode?: PeerMode): Promise<Peer>;
  /** Starts any command in a namespace; resolves once it printed a line matching `ready` (group 1: its PID; 2, if any: its comm). */
  run(side: 'server' | 'client', argv: string[], ready: RegExp): Promise<Peer>;
  /** Runs a command inside a namespace (ip, ss, tc, ...) and returns its stdout; throws if it fails. */
  exec(ns: string, argv: string[]): string;
  /**
   * Adds an nftables rule to a hook of a namespace ("tcp dport 9010 drop"): drops that make retransmits,
   * since this kernel has no sch_netem. remove() takes the rule away; packets() reads its counter (a
   * rule written with `counter`), after remove() the count it ended with.
   */
  nftRule(ns: string, hook: 'input' | 'output', rule: string): { remove(): void; packets(): number };
  remove(): void;
}

const commOf = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';   // already gone
  }
};

/**
 * N sessions from the client namespace to a tcp-peer.mjs server at addr:port: the server (its PID and
 * comm) and the client's local ports, once both have exited.
 */
export async function sessionsTo(net: TestNetwork, addr: string, port: number, n: number): Promise<{ server: Peer; ports: number[] }> {
  const server = await net.peer('server', addr, port, n);
  const client = await net.peer('client', addr, port, n);
  const ports = (await client.waitLines(/^connected (\d+)/, n)).map(m => Number(m[1]));
  await Promise.all([server.exited, client.exited]);
  return { server, ports };
}

const made = new Set<string>();
function removeAll() {
  for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
  made.clear();
}
process.on('exit', removeAll);

function ip(args: string[]) {
  // (30 s: at load 20 an `ip` has taken over 10)
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.error ? r.error.message : r.stderr}`);
}

/**
 * Makes the two namespaces, unique to this process (parallel test runs do not share names). `addrs` picks
 * other addresses (the /24's first three parts, the /64's first two groups), for a tool that sees every
 * namespace's traffic by address (tcpsubnet) while other tests use the default ones.
 */
export function createTestNetwork(addrs: { v4: string; v6: string } = { v4: '10.201.0', v6: 'fd00:201' }): TestNetwork {
  const tag = `bk${process.pid}`;
  const server = { ns: `${tag}-srv`, v4: `${addrs.v4}.1`, v6: `${addrs.v6}::1`, dev: `${tag}s` };
  const client = { ns: `${tag}-cli`, v4: `${addrs.v4}.2`, v6: `${addrs.v6}::2`, dev: `${tag}c` };
  try {
    for (const side of [server, client]) {
      ip(['netns', 'add', side.ns]);
      made.add(side.ns);
      ip(['-n', side.ns, 'link', 'set', 'lo', 'up']);
    }
    ip(['link', 'add', server.dev, 'netns', server.ns, 'type', 'veth', 'peer', 'name', client.dev, 'netns', client.ns]);
    for (const [side, dev] of [[server, server.dev], [client, client.dev]] as const) {
      ip(['-n', side.ns, 'addr', 'add', `${side.v4}/24`, 'dev', dev]);
      ip(['-n', side.ns, 'addr', 'add', `${side.v6}/64`, 'dev', dev, 'nodad']); // usable at once, no DAD wait
      ip(['-n', side.ns, 'link', 'set', dev, 'up']);
    }
  } catch (e) {
    // half made: remove it now, or the next test file in this worker process finds the names taken
    for (const side of [server, client]) {
      spawnSync('ip', ['netns', 'del', side.ns]);
      made.delete(side.ns);
    }
    throw e;
  }
  const peers: ChildProcess[] = [];
  let rules = 0;

  /** Starts argv in a side's namespace; resolves once it printed a line matching `ready` (group 1: its PID, 2: comm). */
  async function startIn(side: 'server' | 'client', argv: string[], ready: RegExp): Promise<Peer> {
    const ns = side === 'server' ? server.ns : client.ns;
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    peers.push(child);
    let out = '';
    let err = '';
    const waiters: (() => void)[] = [];
    child.stdout!.on('data', d => {
      out += d;
      for (const w of waiters.slice()) w();
    });
    child.stderr!.on('data', d => (err += d));
    const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
    const lines = () => out.split('\n').filter(Boolean);
    const waitLines = (re: RegExp, count: number, ms = 20000) => new Promise<RegExpMatchArray[]>((resolve, reject) => {
      const check = () => {
        const hits = lines().map(l => re.exec(l)).filter((m): m is RegExpExecArray => m !== null);
        if (hits.length < count) return false;
        waiters.splice(waiters.indexOf(check), 1);
        clearTimeout(timer);
        resolve(hits.slice(0, count));
        return true;
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`${side} peer: no ${count} lines matching ${re} in ${ms} ms; stdout:\n${out}\nstderr:\n${err}`));
      }, ms);
      waiters.push(check);
      check();
    });
    const [m] = await waitLines(ready, 1);
    return { child, pid: Number(m[1]), comm: m[2] ?? commOf(Number(m[1])), lines, waitLines, exited };
  }

  return {
    server,
    client,
    exec(ns, argv) {
      const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 10000 });
      if (r.status !== 0) throw new Error(`${argv.join(' ')} in ${ns}: ${r.stderr}`);
      return r.stdout;
    },
    peer(side, addr, port, sessions = 1, holdMs = 0, mode = side) {
      // ip netns exec execs node itself: the child's PID is the peer's
      return startIn(side, [process.execPath, fixture, mode, addr, String(port), String(sessions), String(holdMs)], /^(?:listening|client) pid (\d+) comm (\S+)/);
    },
    run(side, argv, ready) {
      return startIn(side, argv, ready);
    },
    nftRule(ns, hook, rule) {
      const table = `bpfkit${++rules}`;
      const nft = (args: string[], input?: string) => {
        const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', ...args], { encoding: 'utf8', timeout: 10000, input });
        if (r.status !== 0) throw new Error(`nft ${args.join(' ')} ('${rule}' in ${ns}): ${r.stderr}`);
        return r.stdout;
      };
      // the rule's `counter` is a named one, which outlives the rule: remove() takes the rule away first and
      // reads the count after, so no packet the rule acted on is missing from it
      const counted = rule.replace(/\bcounter\b/, 'counter name "hits"');
      nft(['-f', '-'], `table inet ${table} {\n counter hits {}\n chain ${hook} {\n  type filter hook ${hook} priority 0;\n  ${counted}\n }\n}\n`);
      const read = () => Number(/packets (\d+)/.exec(nft(['list', 'counter', 'inet', table, 'hits']))?.[1] ?? NaN);
      let final: number | undefined;
      return {
        remove: () => {
          nft(['flush', 'chain', 'inet', table, hook]);
          final = read();
          nft(['delete', 'table', 'inet', table]);
        },
        packets: () => final ?? read(),
      };
    },
    remove() {
      for (const c of peers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      for (const side of [server, client]) {
        spawnSync('ip', ['netns', 'del', side.ns]);
        made.delete(side.ns);
      }
    },
  };
}

/** A namespace's kernel counters by nstat's names ("TcpRetransSegs"), absolute, zeros included. */
export function nstat(net: TestNetwork, ns: string, names: string[]): Record<string, number> {
  const text = net.exec(ns, ['nstat', '-saz', ...names]);
  return Object.fromEntries(names.map(n => [n, Number(new RegExp(`^${n}\\s+(\\d+)`, 'm').exec(text)![1])]));
}

/**
 * What the catalogue runs (catalogue-runs.ts) give the network tools that a plain loopback session does
 * not, until stop(): in a namespace of its own, a Python session that sends 10 bytes every 100 ms through
 * an nftables rule dropping every other data segment (retransmits, NETFILTER_DROP drops), passing an fd
 * over a Unix socket pair each time, overflowing a ping socket's receive queue as often
 * (sock:sock_rcvqueue_full) and sending a UDP datagram marked ECN CE (ipecn); and every
 * `round()`: a bind() and listen() on loopback, a getaddrinfo("localhost") (/etc/hosts), a UDP connect(), and curl
 * fetching a page over TLS from `openssl s_server` (OpenSSL's SSL_write/SSL_read).
 */
export function startNetWorkload(dir: string): { round(): Promise<void>; stop(): void } {
  const ns = `bk${process.pid}-cat`;
  ip(['netns', 'add', ns]);
  made.add(ns);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  // no tail loss probes here: a lost segment is resent by the retransmit timer, which tcp:tcp_retransmit_skb
  // reports (a TLP's resend does not go through it)
  spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.tcp_early_retrans=0']);
  // ping sockets allowed for root here: the session loop overflows one's receive queue (sormem)
  spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ping_group_range=0 0']);
  const lossyPort = 9097;
  const nft = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { encoding: 'utf8',
    // output drops (their skbs still have a socket: tcpdrop sees them; TCP just sends again) and input
    // drops (sent, then lost: the retransmit timer resends, which tcpretrans sees)
    input: `table inet lossy {\n chain output {\n  type filter hook output priority 0;\n  tcp dport ${lossyPort} tcp flags & psh == psh numgen inc mod 4 0 drop\n }\n` +
      ` chain input {\n  type filter hook input priority 0;\n  tcp dport ${lossyPort} tcp flags & psh == psh numgen inc mod 2 0 drop\n }\n}\n` });
  if (nft.status !== 0) throw new Error(`nft in ${ns}: ${nft.stderr}`);
  const lossy = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', `import os, socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", ${lossyPort})); s.listen(16)
p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); p.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1); p.setblocking(False)
# and a UDP datagram marked ECN Congestion Encountered (TOS 3) each time, to a socket of its own (ipecn)
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", ${lossyPort})); r.setblocking(False)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 3)
while True:
    u.sendto(b"ce", ("127.0.0.1", ${lossyPort}))
    try:
        r.recv(16)
    except BlockingIOError:
        pass
    # 4 echo replies for a ping socket of the smallest receive buffer: its queue takes 2 and drops the
    # rest (sock:sock_rcvqueue_full), then is read empty
    for i in range(4):
        p.sendto(bytes([8, 0, 0, 0, 0, 0, 0, i]), ("127.0.0.1", 0))
    try:
        while True:
            p.recv(100)
    except BlockingIOError:
        pass
    # a new session each time: one that lost segments backs its retransmit timer off (Karn), for minutes
    c = socket.create_connection(("127.0.0.1", ${lossyPort})); a, _ = s.accept()
    for i in range(2):
        c.sendall(b"x" * 10); a.recv(100)
    # and an fd passed over a Unix socket pair (SCM_RIGHTS: sofdsnoop)
    x, y = socket.socketpair(); socket.send_fds(x, [b"f"], [c.fileno()])
    for fd in socket.recv_fds(y, 1, 1)[1]: os.close(fd)
    x.close(); y.close(); c.close(); a.close(); time.sleep(0.1)`], { stdio: 'ignore' });
  const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost',
    '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const tlsPort = 9098;
  const tls = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${tlsPort}`, '-cert', cert, '-key', key, '-www', '-quiet'], { stdio: 'ignore' });
  const done = (p: ChildProcess) => new Promise<void>(resolve => p.on('exit', () => resolve()).on('error', () => resolve()));
  return {
    async round() {
      const listener = net.createServer();
      await new Promise<void>(resolve => listener.on('error', () => resolve()).listen(0, '127.0.0.1', () => listener.close(() => resolve())));
      await new Promise<void>(resolve => dns.lookup('localhost', () => resolve()));
      // a UDP connect() (udpconnect)
      const udp = dgram.createSocket('udp4');
      await new Promise<void>(resolve => udp.on('error', () => resolve()).connect(9, '127.0.0.1', () => resolve()));
      udp.close();
      await done(spawn('curl', ['-sk', '--max-time', '5', '-o', '/dev/null', `https://127.0.0.1:${tlsPort}/`], { stdio: 'ignore' }));
    },
    stop() {
      for (const p of [lossy, tls]) p.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', ns]);
      made.delete(ns);
    },
  };
}

/** Starts a tool inside a network namespace (ip netns exec): a tool naming an interface sees that namespace's. */
export function startToolIn(ns: string, tool: string, args: string[] = []): Running {
  const launcher = path.join(root, 'bin', 'bpfkit-node.mjs');
  return track(spawn('ip', ['netns', 'exec', ns, process.execPath, launcher, findToolFile(tool), ...args],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }), `${tool} in ${ns}`);
}

/**
 * Sends `count` UDP datagrams of `size` bytes of payload from the client to a receiver on the server
 * (port 9300 by default), with IP_TOS `tos` (ECN bits included) on IPv4 or the traffic class on IPv6;
 * resolves once the receiver got them all. A receiver, so no ICMP port-unreachable comes back.
 */
export async function udpBurst(net: TestNetwork, o: { count: number; size: number; tos?: number; ipv6?: boolean; port?: number; gapMs?: number }): Promise<void> {
  const port = o.port ?? 9300;
  const [family, dst] = o.ipv6 ? ['AF_INET6', net.server.v6] : ['AF_INET', net.server.v4];
  const receiver = spawn('ip', ['netns', 'exec', net.server.ns, 'python3', '-c', `import socket, sys
s = socket.socket(socket.${family}, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("${dst}", ${port})); s.settimeout(30); print("ready", flush=True)
for i in range(${o.count}):
    s.recv(65536)
print("received", flush=True)`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  let err = '';
  receiver.stderr!.on('data', d => (err += d));
  const saw = (word: string) => new Promise<void>((resolve, reject) => {
    const check = () => said.includes(word) && resolve();
    receiver.stdout!.on('data', d => { said += d; check(); });
    receiver.on('exit', code => (said.includes(word) ? resolve() : reject(new Error(`UDP receiver exited ${code} before '${word}': ${err}`))));
    check();
  });
  await saw('ready');
  const tos = o.tos === undefined ? '' : o.ipv6 ? `c.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, ${o.tos})` : `c.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, ${o.tos})`;
  net.exec(net.client.ns, ['python3', '-c', `import socket, time
c = socket.socket(socket.${family}, socket.SOCK_DGRAM)
${tos}
for i in range(${o.count}):
    c.sendto(b"x" * ${o.size}, ("${dst}", ${port})); time.sleep(${(o.gapMs ?? 0) / 1000})`]);
  await saw('received');
}

/**
 * Sends `count` ICMP echo requests (ICMPv6 with `ipv6`) from the client to the server, one at a time,
 * each waiting for its reply (a raw socket: this machine has no ping); returns each round trip in µs,
 * as ping measures it (request sent to reply read), by sequence number 1..count.
 */
export function echoRequests(net: TestNetwork, count: number, o: { ident?: number; ipv6?: boolean } = {}): number[] {
  const ident = o.ident ?? 0x4242;
  const v6 = o.ipv6 ?? false;
  const out = net.exec(net.client.ns, ['python3', '-c', `import socket, struct, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
v6 = ${v6 ? 'True' : 'False'}
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) if v6 else socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(10)
for seq in range(1, ${count} + 1):
    body = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ${ident}, seq) + b"bpfkit-echo-0123456789abcdefghij"
    pkt = body if v6 else body[:2] + struct.pack("!H", csum(body)) + body[4:]   # the kernel sums ICMPv6
    t0 = time.monotonic(); s.sendto(pkt, ("${v6 ? net.server.v6 : net.server.v4}", 0))
    while True:
        data = s.recv(2048); at = 0 if v6 else (data[0] & 15) * 4
        typ, _, _, i, q = struct.unpack("!BBHHH", data[at:at + 8])
        if typ == (129 if v6 else 0) and i == ${ident} and q == seq:
            break
    print(round((time.monotonic() - t0) * 1e6))`]);
  return out.trim().split('\n').map(Number);
}

/**
 * Makes the veth pair carry the test's packets only: IPv6 off on both ends (no router solicitations
 * or MLD reports, which a new link sends for a while) and each end's IPv4 neighbour permanent (no ARP).
 * For tests that count every packet on the link; IPv6 is gone from the pair afterwards.
 */
export function quietLink(net: TestNetwork): void {
  const sides = [[net.server, net.client], [net.client, net.server]] as const;
  for (const [side] of sides) net.exec(side.ns, ['sysctl', '-qw', `net.ipv6.conf.${side.dev}.disable_ipv6=1`]);
  for (const [side, peer] of sides) {
    const mac = /link\/ether (\S+)/.exec(net.exec(peer.ns, ['ip', 'link', 'show', peer.dev]))![1]!;
    net.exec(side.ns, ['ip', 'neigh', 'replace', peer.v4, 'lladdr', mac, 'dev', side.dev, 'nud', 'permanent']);
  }
}
