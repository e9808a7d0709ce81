#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// sslsniff: the plaintext of TLS reads and writes, captured at the TLS libraries' read/write functions
// (BCC's sslsniff), with uprobes, natively here: OpenSSL's SSL_read/SSL_write (and the _ex forms OpenSSL
// 3 callers such as Python use), GnuTLS's gnutls_record_recv/send, NSS's PR_Read/PR_Write/PR_Recv/PR_Send;
// -l times each call, --handshake also SSL_do_handshake. One entry and one return program serve every
// function: the attach cookie says which direction and whether the length comes back through a pointer.
import { defineTool, opt, ToolError } from '../../lib/cli/index.js';
import { positiveInt } from '../../lib/cli/options.js';
import { resolveLibrary } from '../../lib/syms/libraries.js';
import { sprintf } from '../../lib/output/index.js';

const MAX_BUF = 8192;

const program = `
#define BPFKIT_HEAP_SIZE (${MAX_BUF} + 64)
#include <bpfkit.h>

#define MAX_BUF ${MAX_BUF}
#define KIND_READ 0
#define KIND_WRITE 1
#define KIND_HANDSHAKE 2
#define LENGTH_BY_POINTER 4   /* SSL_read_ex/SSL_write_ex: returns 1, the length is in *arg4 */

const volatile u32 targ_tgid = 0;
const volatile u32 targ_uid = (u32)-1;

struct call { u64 start_ns; u64 buf; u64 lenp; };
struct event {
	u64 ts_ns;
	u64 delta_ns;
	u32 pid;
	u32 tid;
	u32 uid;
	u32 len;
	u32 captured;
	u32 kind;
	char comm[16];
	u8 buf[MAX_BUF];
};

BPF_HASH(calls, u32, struct call, 10240);
BPF_RINGBUF_OUTPUT(events, 1024);
BPFKIT_EXPORT_TYPE(struct event);

SEC("uprobe")
int BPF_KPROBE(tls_entry, void *session, void *buf, u64 num, void *lenp)
{
	u64 id = bpf_get_current_pid_tgid();
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (targ_uid != (u32)-1 && (u32)bpf_get_current_uid_gid() != targ_uid)
		return 0;
	struct call c = { .start_ns = bpf_ktime_get_ns(), .buf = (u64)buf, .lenp = (u64)lenp };
	u32 tid = id;
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(tls_return, long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	u64 cookie = bpf_get_attach_cookie(ctx);
	u32 kind = cookie & 3;
	s64 len = (int)ret;
	if (cookie & LENGTH_BY_POINTER) {
		u64 n = 0;
		if ((int)ret == 1)
			bpf_probe_read_user(&n, sizeof(n), (void *)c->lenp);
		len = n;
	}
	if (kind != KIND_HANDSHAKE && len <= 0)
		goto done;   /* an error or nothing moved */
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		goto done;
	e->ts_ns = bpf_ktime_get_ns();
	e->delta_ns = e->ts_ns - c->start_ns;
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = bpf_get_current_uid_gid();
	e->kind = kind;
	e->len = kind == KIND_HANDSHAKE ? 0 : len;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	u32 n = e->len < MAX_BUF ? e->len : MAX_BUF;
	e->captured = 0;
	if (n && bpf_probe_read_user(e->buf, n, (void *)c->buf) == 0)
		e->captured = n;
	ringbuf_submit(events, e);
done:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}
`;

interface Options {
  pid?: number;
  uid?: number;
  extra: boolean;
  comm?: string;
  noOpenssl: boolean;
  noGnutls: boolean;
  noNss: boolean;
  openssl: boolean;
  gnutls: boolean;
  nss: boolean;
  hexdump: boolean;
  maxBufferSize: number;
  latency: boolean;
  handshake: boolean;
}

interface TlsEvent { ts_ns: bigint; delta_ns: bigint; pid: number; tid: number; uid: number; len: number; captured: number; kind: number; comm: string; buf: number[] | Uint8Array }

const READ = 0, WRITE = 1, HANDSHAKE = 2, BY_POINTER = 4;
/** Each library's functions and what their cookie says (direction, length through a pointer). */
const LIBRARIES: Record<'openssl' | 'gnutls' | 'nss', { lib: string; functions: [string, number][] }> = {
  openssl: { lib: 'ssl', functions: [['SSL_write', WRITE], ['SSL_read', READ], ['SSL_write_ex', WRITE | BY_POINTER], ['SSL_read_ex', READ | BY_POINTER]] },
  gnutls: { lib: 'gnutls', functions: [['gnutls_record_send', WRITE], ['gnutls_record_recv', READ]] },
  nss: { lib: 'nspr4', functions: [['PR_Write', WRITE], ['PR_Send', WRITE], ['PR_Read', READ], ['PR_Recv', READ]] },
};
const FUNC_NAMES = ['READ/RECV', 'WRITE/SEND', 'HANDSHAKE'];

defineTool<Options>({
  name: 'sslsniff',
  subsystem: 'net',
  description: 'Sniff SSL data',
  ports: { bcc: 'tools/sslsniff.py', bpftrace: 'tools/sslsnoop.bt' },
  probes: {
    uprobe: Object.values(LIBRARIES).flatMap(l => l.functions.map(([f]) => `${l.lib}:${f}`)),
    uretprobe: Object.values(LIBRARIES).flatMap(l => l.functions.map(([f]) => `${l.lib}:${f}`)),
  },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }, { args: ['-x', '-l', '--handshake', '--hexdump'], ends: 'ctrl-c' }],
  records: o => ({ fields: ['ts_ns', 'func', 'comm', 'pid', 'tid', 'uid', 'len', ...(o.latency ? ['latency_ms'] : []), 'data', 'truncated_bytes'] }),
  program,
  options: {
    pid: opt.pid('sniff this PID only.'),
    uid: opt.uid('sniff this UID only.'),
    extra: opt.flag('x', 'show extra fields (UID, TID)'),
    comm: opt.str('c', 'sniff only commands matching string.'),
    // BCC's -o/--no-openssl...: the short flags, and the long ones as yargs' negations of hidden flags
    noOpenssl: opt.flag('o', 'do not show OpenSSL calls.'),
    noGnutls: opt.flag('g', 'do not show GnuTLS calls.'),
    noNss: opt.flag('n', 'do not show NSS calls.'),
    openssl: { type: 'boolean', default: true, hidden: true },
    gnutls: { type: 'boolean', default: true, hidden: true },
    nss: { type: 'boolean', default: true, hidden: true },
    hexdump: { type: 'boolean', default: false, describe: 'show data as hexdump instead of trying to decode it as UTF-8' },
    maxBufferSize: { type: 'string', describe: 'Size of captured buffer', default: String(MAX_BUF), coerce: positiveInt('buffer size') },
    latency: opt.flag('l', 'show function latency'),
    handshake: { type: 'boolean', default: false, describe: 'show SSL handshake latency, enabled only if latency option is on.' },
  },
  examples: [
    ['sslsniff', 'sniff OpenSSL and GnuTLS functions'],
    ['sslsniff -p 181', 'sniff PID 181 only'],
    ['sslsniff -u 1000', 'sniff only UID 1000'],
    ['sslsniff -c curl', 'sniff curl command only'],
    ['sslsniff --no-openssl', "don't show OpenSSL calls"],
    ['sslsniff --no-gnutls', "don't show GnuTLS calls"],
    ['sslsniff --no-nss', "don't show NSS calls"],
    ['sslsniff --hexdump', 'show data as hex instead of trying to decode it as UTF-8'],
    ['sslsniff -x', 'show process UID and TID'],
    ['sslsniff -l', 'show function latency'],
    ['sslsniff -l --handshake', 'show SSL handshake latency'],
  ],
  validate(o) {
    if ((o.noOpenssl || !o.openssl) && (o.noGnutls || !o.gnutls) && (o.noNss || !o.nss)) return '-o, -g and -n together leave no TLS library to sniff';
    if (o.maxBufferSize > MAX_BUF) return `invalid buffer size: '${o.maxBufferSize}' (at most ${MAX_BUF} bytes are captured)`;
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_uid: opts.uid ?? 0xffffffff } });
    const wanted = (['openssl', 'gnutls', 'nss'] as const).filter(l => opts[l] && !{ openssl: opts.noOpenssl, gnutls: opts.noGnutls, nss: opts.noNss }[l]);
    let attached = 0;
    for (const name of wanted) {
      const { lib, functions } = LIBRARIES[name];
      let binary: string;
      try {
        binary = resolveLibrary(lib, opts.pid);
      } catch {
        continue; // not installed: nothing of it to sniff
      }
      const all: [string, number][] = name === 'openssl' && opts.latency && opts.handshake ? [...functions, ['SSL_do_handshake', HANDSHAKE]] : functions;
      for (const [symbol, cookie] of all) {
        bpf.attachUprobe('tls_entry', { binary, symbol, pid: opts.pid, cookie: BigInt(cookie) });
        bpf.attachUprobe('tls_return', { binary, symbol, pid: opts.pid, retprobe: true, cookie: BigInt(cookie) });
        attached++;
      }
    }
    if (!attached) throw new ToolError(`none of the TLS libraries asked for is installed (lib${wanted.map(l => LIBRARIES[l].lib).join(', lib')})`);
    if (!json) {
      out.line(sprintf('%-12s %-18s %-16s %-7s %-7s', 'FUNC', 'TIME(s)', 'COMM', 'PID', 'LEN') +
        (opts.extra ? sprintf(' %-7s %-7s', 'UID', 'TID') : '') + (opts.latency ? sprintf(' %-7s', 'LAT(ms)') : ''));
    }
    let startNs: bigint | undefined;
    bpf.events<TlsEvent>('events', 'event', e => {
      if (opts.comm !== undefined && e.comm !== opts.comm) return; // BCC: the whole name
      const size = Math.min(e.captured, opts.maxBufferSize);
      const data = Buffer.from(Uint8Array.from(e.buf as ArrayLike<number>).subarray(0, size));
      const lat = e.delta_ns ? (Number(e.delta_ns) / 1e6).toFixed(3) : 'N/A';
      if (json) {
        emit.event({ func: FUNC_NAMES[e.kind], comm: e.comm, pid: e.pid, tid: e.tid, uid: e.uid, len: e.len,
          ...(opts.latency ? { latency_ms: Number(e.delta_ns) / 1e6 } : {}),
          data: opts.hexdump ? data.toString('hex') : data.toString('utf8'), truncated_bytes: e.len - size }, { tsNs: e.ts_ns });
        return;
      }
      startNs ??= e.ts_ns;
      out.line(sprintf('%-12s %-18.9f %-16s %-7d %-6d', FUNC_NAMES[e.kind], Number(e.ts_ns - startNs) / 1e9, e.comm, e.pid, e.len) +
        (opts.extra ? sprintf(' %-7d %-7d', e.uid, e.tid) : '') + (opts.latency ? sprintf(' %-7s', lat) : ''));
      if (size === 0) return;
      out.line('----- DATA -----');
      out.line(opts.hexdump ? (data.toString('hex').match(/.{1,32}/g) ?? []).join('\n') : data.toString('utf8'));
      const lost = e.len - size;
      out.line(lost > 0 ? `----- END DATA (TRUNCATED, ${lost} bytes lost) -----` : '----- END DATA -----');
      out.line('');
      out.line('');
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`sslsniff: lost ${lost} events\n`);
  },
});
