// Event streams: perf buffer (BPF_PERF_OUTPUT, the fallback for kernels without ring buffers) and ring
// buffer loss accounting, decoded by struct name through BTF.
import koffi from 'koffi';
import { BPF } from '../../lib/bpf.js';

const getppid = koffi.load('libc.so.6').func('int getppid(void)');

test('perf buffer events are decoded by struct name', async () => {
  const bpf = BPF.load({
    name: 'perfbuf_test',
    rodata: { targ_tgid: process.pid },
    text: `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
struct event { u32 pid; u32 n; char comm[16]; };
BPFKIT_EXPORT_TYPE(struct event);
BPF_PERF_OUTPUT(events);
u64 counter = 0;
SEC("tracepoint/syscalls/sys_enter_getppid") int on_getppid(void *ctx) {
	if (bpfkit_tgid() != targ_tgid) return 0;
	struct event e = { .pid = bpfkit_tgid(), .n = __sync_fetch_and_add(&counter, 1) };
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	perf_submit(events, ctx, &e, sizeof(e));
	return 0;
}`,
  });
  try {
    const seen: { pid: number; n: number; comm: string }[] = [];
    const stream = bpf.events('events', 'event', e => seen.push(e));
    bpf.attachAll();
    for (let i = 0; i < 1000; i++) getppid();
    stream.drain(); // all are in the buffer by now: take them at once, however slow the timer
    expect(seen.length).toBe(1000);
    expect(seen[0]).toEqual({ pid: process.pid, n: 0, comm: expect.any(String) });
    expect(seen.map(e => e.n)).toEqual([...Array(1000).keys()]);
    expect(bpf.lost('events')).toBe(0);
  } finally {
    bpf.close();
  }
});

test('a full ring buffer counts lost records instead of hiding them', async () => {
  const bpf = BPF.load({
    name: 'ringloss_test',
    rodata: { targ_tgid: process.pid },
    text: `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
struct big { u64 seq; u8 pad[1000]; };
BPF_RINGBUF_OUTPUT(events, 1);   /* one page: room for three records */
BPFKIT_EXPORT_TYPE(struct big);
u64 seq = 0;
SEC("tracepoint/syscalls/sys_enter_getppid") int on_getppid(void *ctx) {
	if (bpfkit_tgid() != targ_tgid) return 0;
	struct big *e = ringbuf_reserve(events, struct big);
	if (!e) return 0;
	e->seq = __sync_fetch_and_add(&seq, 1);
	ringbuf_submit(events, e);
	return 0;
}`,
  });
  try {
    let got = 0;
    bpf.attachAll();
    for (let i = 0; i < 50; i++) getppid(); // nobody consumes yet: most cannot fit
    const stream = bpf.events('events', 'big', () => got++);
    stream.drain();
    const stored = Number(bpf.globals('.bss').seq);
    expect(got).toBe(stored);
    expect(stored).toBeLessThan(50);
    expect(bpf.lost('events')).toBe(50 - stored);
  } finally {
    bpf.close();
  }
});

test('kernels without ring buffers: BPF_RINGBUF_OUTPUT programs fall back to a perf buffer', async () => {
  process.env.BPFKIT_NO_RINGBUF = '1'; // what a < 5.8 kernel looks like to the library
  const bpf = BPF.load({
    name: 'ringcompat_test',
    rodata: { targ_tgid: process.pid },
    text: `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
struct event { u64 n; char comm[16]; };
BPF_RINGBUF_OUTPUT(events, 16);
BPFKIT_EXPORT_TYPE(struct event);
u64 n = 0;
SEC("tracepoint/syscalls/sys_enter_getppid") int on_getppid(void *ctx) {
	if (bpfkit_tgid() != targ_tgid) return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e) return 0;
	e->n = __sync_fetch_and_add(&n, 1);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
	return 0;
}`,
  });
  delete process.env.BPFKIT_NO_RINGBUF;
  try {
    const seen: bigint[] = [];
    const stream = bpf.events<{ n: bigint }>('events', 'event', e => seen.push(e.n));
    expect(stream.constructor.name).toBe('PerfBuffer');
    expect(bpf.map('events').fd).toBeLessThan(0); // the ring buffer was never created
    bpf.attachAll();
    for (let i = 0; i < 200; i++) getppid();
    stream.drain();
    expect(seen).toEqual([...Array(200).keys()].map(BigInt));
    expect(bpf.lost('events')).toBe(0);
  } finally {
    bpf.close();
  }
});
