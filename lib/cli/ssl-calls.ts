// The OpenSSL calls that bpftrace's sslsnoop.bt and ssllatency.bt time: libssl's SSL_read, SSL_write and
// SSL_do_handshake, and libcrypto's RSA/ECDSA/ECDH work where the library exports it (Debian's
// libcrypto.so.3 keeps rsa_ossl_* and ossl_ecdsa_* static: those are left out with one stderr line). One
// entry and one return program time every function; the attach cookie says which function it is.
import type { BPF } from '../bpf.js';
import { resolveLibrary } from '../syms/libraries.js';
import { ToolError } from './index.js';

export const SSL_FUNCTIONS: [lib: string, symbol: string][] = [
  ['crypto', 'rsa_ossl_public_encrypt'], ['crypto', 'rsa_ossl_public_decrypt'], ['crypto', 'rsa_ossl_private_encrypt'],
  ['crypto', 'rsa_ossl_private_decrypt'], ['crypto', 'RSA_sign'], ['crypto', 'RSA_verify'], ['crypto', 'ossl_ecdsa_sign'],
  ['crypto', 'ossl_ecdsa_verify'], ['crypto', 'ossl_ecdh_compute_key'],
  ['ssl', 'SSL_read'], ['ssl', 'SSL_write'], ['ssl', 'SSL_do_handshake'],
];

/** The probes declaration of both tools. */
export const sslProbes = { uprobe: SSL_FUNCTIONS.map(([l, s]) => `${l}:${s}`), uretprobe: SSL_FUNCTIONS.map(([l, s]) => `${l}:${s}`) };

/**
 * The C of both tools: `histograms` false sends each call as an event (sslsnoop), true counts it in a
 * linear histogram of µs by function and success (ssllatency: bpftrace's lhist(0, 1000, 200), success
 * meaning a return value >= 1) and sums its count and total.
 */
export const sslCallsProgram = `
#include <bpfkit.h>

#define SLOT_US 200
#define SLOTS 6            /* [0, 200) ... [800, 1000), then 1000 and more */

const volatile bool histograms = false;

struct call { u64 start_ns; };
struct event { u64 ts_ns; u64 lat_ns; s64 ret; u32 tid; u32 func; char comm[16]; };
struct hist_key { u32 func; u32 failed; u64 slot; };
struct stat_key { u32 func; u32 failed; };
struct call_stat { u64 count; u64 total_us; };

BPF_HASH(calls, u32, struct call, 10240);
BPF_RINGBUF_OUTPUT(events, 256);
BPF_HISTOGRAM(latency, struct hist_key, 1024);
BPF_HASH(stats, struct stat_key, struct call_stat, 256);
BPFKIT_EXPORT_TYPE(struct event);

SEC("uprobe")
int BPF_KPROBE(ssl_entry)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct call c = { .start_ns = bpf_ktime_get_ns() };
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_return, long ret)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	u64 now = bpf_ktime_get_ns();
	u64 lat_ns = now - c->start_ns;
	bpf_map_delete_elem(&calls, &tid);
	u32 func = bpf_get_attach_cookie(ctx);
	if (!histograms) {
		struct event *e = ringbuf_reserve(events, struct event);
		if (!e)
			return 0;
		e->ts_ns = now;
		e->lat_ns = lat_ns;
		e->ret = (int)ret;
		e->tid = tid;
		e->func = func;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		ringbuf_submit(events, e);
		return 0;
	}
	u64 us = lat_ns / 1000;
	u32 failed = (int)ret < 1;
	struct hist_key key = { .func = func, .failed = failed, .slot = us / SLOT_US < SLOTS ? us / SLOT_US : SLOTS - 1 };
	map_increment(latency, key);
	struct stat_key sk = { .func = func, .failed = failed };
	struct call_stat zero = {};
	struct call_stat *s = map_lookup_or_try_init(stats, &sk, &zero);
	if (s) {
		__sync_fetch_and_add(&s->count, 1);
		__sync_fetch_and_add(&s->total_us, us);
	}
	return 0;
}
`;

/**
 * Attaches the entry and return programs to every function the libraries (of `pid`, if given) export;
 * says on stderr which are not there, and stops when none is.
 */
export function attachSslCalls(bpf: BPF, tool: string, pid?: number): void {
  const missing: string[] = [];
  SSL_FUNCTIONS.forEach(([lib, symbol], i) => {
    try {
      const binary = resolveLibrary(lib, pid);
      bpf.attachUprobe('ssl_entry', { binary, symbol, pid, cookie: BigInt(i) });
      bpf.attachUprobe('ssl_return', { binary, symbol, pid, retprobe: true, cookie: BigInt(i) });
    } catch {
      missing.push(symbol);
    }
  });
  if (missing.length === SSL_FUNCTIONS.length) throw new ToolError('libssl.so.3 and libcrypto.so.3 are not installed');
  if (missing.length) process.stderr.write(`${tool}: not exported by this OpenSSL, so not traced: ${missing.join(', ')}\n`);
}
