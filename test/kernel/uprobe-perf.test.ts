// uprobes on a binary the test builds, and perf_event sampling with kernel + user stacks, symbolised.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BPF } from '../../lib/bpf.js';
import { KernelSymbols, ProcessSymbols, formatSymbol, stackTrace } from '../../lib/syms/index.js';
import { tmpDir, waitUntil } from './helpers.js';

const targetC = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int bpfkit_target(int x) { return x * 2 + 1; }
__attribute__((noinline)) unsigned long burn(unsigned long n) {
	volatile unsigned long acc = 0;
	for (unsigned long i = 0; i < n; i++) acc += i ^ (acc >> 3);
	return acc;
}
int main(int argc, char **argv) {
	int calls = atoi(argv[1]);
	getchar(); /* wait until the test attached */
	int sum = 0;
	for (int i = 0; i < calls; i++) sum += bpfkit_target(i);
	if (argc > 2) { for (;;) burn(100000000UL); }
	printf("%d\\n", sum);
	return 0;
}
`;

let dir: string;
let bin: string;
beforeAll(() => {
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'target.c'), targetC);
  bin = path.join(dir, 'target');
  const r = spawnSync('gcc', ['-O1', '-g', '-fno-omit-frame-pointer', '-o', bin, path.join(dir, 'target.c')], { encoding: 'utf8' });
  expect(r.status).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a uprobe and a uretprobe on a function of a test binary count its calls and see its argument', async () => {
  const bpf = BPF.load({
    name: 'uprobe_test',
    text: `#include <bpfkit.h>
BPF_ARRAY(counts, u64, 2);
BPF_HASH(args_seen, u32, u64, 1024);
SEC("uprobe") int BPF_KPROBE(on_enter, int x) {
	u32 k = 0; map_increment(counts, k);
	u32 a = x; map_increment(args_seen, a);
	return 0;
}
SEC("uretprobe") int BPF_KRETPROBE(on_return, int ret) {
	u32 k = 1; map_increment(counts, k);
	return 0;
}`,
  });
  try {
    const child = spawn(bin, ['500'], { stdio: ['pipe', 'pipe', 'inherit'] });
    bpf.attachUprobe('on_enter', { binary: bin, symbol: 'bpfkit_target', pid: child.pid });
    bpf.attachUprobe('on_return', { binary: bin, symbol: 'bpfkit_target', retprobe: true, pid: child.pid });
    child.stdin!.end('\n');
    await new Promise(r => child.on('exit', r));
    const counts = bpf.map('counts');
    expect(counts.get(0)).toBe(500n);
    expect(counts.get(1)).toBe(500n);
    expect(bpf.map('args_seen').entries().length).toBe(500);
  } finally {
    bpf.close();
  }
});

test('a uprobe on a libc function by library short name', async () => {
  const bpf = BPF.load({
    name: 'uprobe_libc',
    text: `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
BPF_ARRAY(calls, u64, 1);
SEC("uprobe") int BPF_KPROBE(on_getpid) { if (bpfkit_tgid() == targ_tgid) { u32 k = 0; map_increment(calls, k); } return 0; }`,
    rodata: {},
  });
  try {
    bpf.attachUprobe('on_getpid', { binary: 'c', symbol: 'getpid' });
    const r = spawnSync('sh', ['-c', 'for i in 1 2 3; do :; done'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(bpf.map('calls').entries().length).toBe(1);
  } finally {
    bpf.close();
  }
});

test('perf_event sampling collects kernel and user stacks, symbolised', async () => {
  const child = spawn(bin, ['1', 'burn'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const bpf = BPF.load({
    name: 'profile_test',
    text: `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
struct skey { u32 pid; s32 user_stack; s32 kernel_stack; };
BPF_HASH(counts, struct skey, u64, 4096);
BPF_STACK_TRACE(stacks, 4096);
SEC("perf_event") int do_sample(struct bpf_perf_event_data *ctx) {
	if (bpfkit_tgid() != targ_tgid) return 0;
	struct skey k = { .pid = bpfkit_tgid() };
	k.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	k.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
	map_increment(counts, k);
	return 0;
}`,
    rodata: { targ_tgid: child.pid },
  });
  try {
    bpf.attachPerfEvent('do_sample', { frequency: 199 });
    child.stdin!.end('\n');
    // however long this machine takes to give the busy child 50 samples' worth of CPU
    const counts = bpf.map('counts');
    const total = () => counts.entries().reduce((n, [, v]) => n + Number(v), 0);
    await waitUntil(() => total() >= 50, '50 samples of the busy child');
    const syms = new ProcessSymbols(child.pid!);
    const stacks = bpf.map('stacks');
    const userFrames = (id: number) => ((stacks.get(id) as bigint[] | undefined) ?? []).filter(ip => ip).map(ip => formatSymbol(syms.resolve(ip), ip));
    // the child spends its life in burn(), called from main(): its most frequent user stack says so
    const withUser = counts.entries().filter(([k]) => k.user_stack >= 0).sort((a, b) => Number(b[1]) - Number(a[1]));
    expect(withUser.length).toBeGreaterThan(0);
    const frames = userFrames(withUser[0][0].user_stack);
    expect(frames[0]).toMatch(/^burn/);
    expect(frames.some(f => f.startsWith('main'))).toBe(true);

    // A kernel stack: sample the whole system while this test makes syscalls.
    const ks = KernelSymbols.load();
    const addr = ks.address('schedule');
    expect(addr).toBeDefined();
    expect(formatSymbol(ks.resolve(addr! + 4n), addr! + 4n, { showOffset: true })).toBe('schedule+0x4');
  } finally {
    child.kill('SIGKILL');
    bpf.close();
  }
});

test('kernel stacks from a perf_event sampler: the stack of a syscall goes through the syscall entry, symbolised', async () => {
  // Samples of dd copying one byte at a time (two syscalls per byte) taken in the kernel: their
  // stacks are known to run from the syscall entry down to the read or write being served.
  const bpf = BPF.load({
    name: 'kprofile_test',
    text: `#include <bpfkit.h>
BPF_HASH(counts, s32, u64, 4096);
BPF_STACK_TRACE(stacks, 4096);
SEC("perf_event") int do_sample(struct bpf_perf_event_data *ctx) {
	char comm[16];
	bpf_get_current_comm(&comm, sizeof(comm));
	if (comm[0] != 'd' || comm[1] != 'd' || comm[2] != 0) return 0;
	s32 id = bpf_get_stackid(ctx, &stacks, 0);   /* fails (EFAULT) for a sample taken in user mode */
	if (id >= 0) map_increment(counts, id);
	return 0;
}`,
  });
  try {
    bpf.attachPerfEvent('do_sample', { frequency: 499 });
    const ks = KernelSymbols.load();
    const entry = process.arch === 'arm64' ? 'invoke_syscall' : 'do_syscall_64';
    const names = (id: number) => bpf.stackIps('stacks', id).map(ip => ks.resolve(ip)?.name ?? '?');
    const throughEntry = () => bpf.map('counts').keys().map(id => id as number).filter(id => names(id).includes(entry));
    // as many dd runs as this machine needs for one sample inside a syscall (the first almost always)
    for (let run = 0; run < 50 && throughEntry().length === 0; run++) {
      spawnSync('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=100000']);
    }
    const ids = throughEntry();
    expect(ids.length).toBeGreaterThan(0);
    // the deepest of them: the entry, the syscall, the file operation below it
    const deepest = ids.sort((a, b) => bpf.stackIps('stacks', b).length - bpf.stackIps('stacks', a).length)[0];
    const frames = stackTrace(bpf, 'stacks', deepest, { showOffset: true });
    expect(frames.length).toBeGreaterThan(3);
    expect(frames).toHaveLength(bpf.stackIps('stacks', deepest).length);
    expect(frames.every(f => /^\S+\+0x[0-9a-f]+$/.test(f))).toBe(true); // every frame resolved
    expect(frames.findIndex(f => f.startsWith(`${entry}+`))).toBeGreaterThan(0); // innermost first: the entry is outer
    expect(stackTrace(bpf, 'stacks', -14)).toEqual([]);
  } finally {
    bpf.close();
  }
});

test('a USDT probe in a test binary: every firing seen, with its arguments', async () => {
  const src = path.join(dir, 'usdt.c');
  fs.writeFileSync(src, `#include <stdio.h>
#include <sys/sdt.h>
int main(void) {
	getchar();
	for (long i = 1; i <= 100; i++) DTRACE_PROBE2(bpfkit, tick, i, i * 2);
	return 0;
}
`);
  const bin2 = path.join(dir, 'usdt');
  expect(spawnSync('gcc', ['-O1', '-o', bin2, src], { encoding: 'utf8' }).status).toBe(0);
  const bpf = BPF.load({
    name: 'usdt_test',
    text: `#include <bpfkit.h>
#include <bpf/usdt.bpf.h>
BPF_ARRAY(stats, u64, 2);   /* 0: firings, 1: sum of both arguments */
SEC("usdt") int BPF_USDT(on_tick, long i, long twice) {
	u32 k = 0; map_increment(stats, k);
	k = 1; map_add(stats, k, i + twice);
	return 0;
}`,
  });
  try {
    const child = spawn(bin2, [], { stdio: ['pipe', 'ignore', 'inherit'] });
    bpf.attachUsdt('on_tick', { binary: bin2, provider: 'bpfkit', name: 'tick', pid: child.pid });
    child.stdin!.end('\n');
    await new Promise(r => child.on('exit', r));
    expect(bpf.map('stats').get(0)).toBe(100n);
    expect(bpf.map('stats').get(1)).toBe(BigInt(3 * 5050)); // sum of i + 2i for i = 1..100
  } finally {
    bpf.close();
  }
});
