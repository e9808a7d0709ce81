// Fallback chains on this kernel: tp_btf is kept over raw_tp; fentry/kprobe both missing -> one clear error.
import { BPF } from '../../lib/bpf.js';

const chain = `#include <bpfkit.h>
BPF_ARRAY(hits, u64, 2);
SEC("tp_btf/sched_switch") int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next) {
	u32 k = 0; map_increment(hits, k); return 0;
}
SEC("raw_tp/sched_switch") int BPF_PROG(switch_raw) {
	u32 k = 1; map_increment(hits, k); return 0;
}`;

test('tp_btf and raw_tp alternatives: the best kind this kernel has is loaded', async () => {
  const bpf = BPF.load({ text: chain, name: 'chain' });
  try {
    expect(bpf.programs.get('switch_btf')!.loaded).toBe(true);
    expect(bpf.programs.get('switch_raw')!.loaded).toBe(false);
    expect(bpf.programs.get('switch_raw')!.skipped).toBe('replaced by tp_btf/sched_switch');
    expect(bpf.attachAll()).toBe(1);
    await new Promise(r => setTimeout(r, 200));
    expect(Number(bpf.map('hits').get(0))).toBeGreaterThan(0);
    expect(bpf.map('hits').get(1)).toBe(0n);
  } finally {
    bpf.close();
  }
});

test('the next kind in the chain is used when the first is unavailable', async () => {
  const bpf = BPF.load({ text: chain, name: 'chain', disable: ['switch_btf'] });
  try {
    expect(bpf.programs.get('switch_raw')!.loaded).toBe(true);
    bpf.attachAll();
    await new Promise(r => setTimeout(r, 200));
    expect(Number(bpf.map('hits').get(1))).toBeGreaterThan(0);
  } finally {
    bpf.close();
  }
});

test('fentry -> kprobe with neither available here: one error naming the missing features', () => {
  const text = `#include <bpfkit.h>
SEC("fentry/vfs_read") int BPF_PROG(read_fentry) { return 0; }
SEC("kprobe/vfs_read") int BPF_KPROBE(read_kprobe) { return 0; }`;
  expect(() => BPF.load({ text, name: 'vfsread' })).toThrow(
    'vfsread: cannot run fentry/vfs_read or kprobe/vfs_read: needs fentry (BPF trampolines): the kernel refuses to load fentry programs (EPERM); needs kprobes: this kernel was built without CONFIG_KPROBES');
  expect(BPF.check({ text, name: 'vfsread' })).toMatch(/needs kprobes: this kernel was built without CONFIG_KPROBES/);
});

test('optional programs are skipped instead of failing', () => {
  const text = `#include <bpfkit.h>
SEC("kprobe/vfs_read") int BPF_KPROBE(maybe) { return 0; }
SEC("tracepoint/syscalls/sys_enter_getpid") int always(void *ctx) { return 0; }`;
  const bpf = BPF.load({ text, name: 'optional', optional: ['maybe'] });
  try {
    expect(bpf.programs.get('maybe')!.loaded).toBe(false);
    expect(bpf.attachAll()).toBe(1);
  } finally {
    bpf.close();
  }
});
