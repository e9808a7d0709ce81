// Fallback chains on this kernel: raw_tp is kept over its tp_btf twin where the object's cut of the kernel
// BTF serves (lib/bpf.ts rank()), tp_btf over raw_tp where the whole BTF is read anyway; fentry/kprobe both
// missing -> one clear error.
import { spawn } from 'node:child_process';
import { BPF } from '../../lib/bpf.js';

const chain = `#include <bpfkit.h>
BPF_ARRAY(hits, u64, 2);
SEC("tp_btf/sched_switch") int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next) {
	u32 k = 0; map_increment(hits, k); return 0;
}
SEC("raw_tp/sched_switch") int BPF_PROG(switch_raw) {
	u32 k = 1; map_increment(hits, k); return 0;
}`;

test('tp_btf and raw_tp alternatives: raw_tp where the object\'s cut of the kernel BTF serves, else tp_btf', async () => {
  // the cut: libbpf need not read the whole kernel BTF, which a tp_btf program would make it do
  for (const [opts, kept, replaced] of [[{}, 'switch_raw', 'switch_btf'], [{ fullKernelBtf: true }, 'switch_btf', 'switch_raw']] as const) {
    const bpf = BPF.load({ text: chain, name: 'chain', ...opts });
    try {
      expect(bpf.coreBtf !== undefined).toBe(!('fullKernelBtf' in opts));
      expect(bpf.programs.get(kept)!.loaded).toBe(true);
      expect(bpf.programs.get(replaced)!.loaded).toBe(false);
      expect(bpf.programs.get(replaced)!.skipped).toBe(`replaced by ${bpf.programs.get(kept)!.section}`);
      expect(bpf.attachAll()).toBe(1);
      const slot = kept === 'switch_btf' ? 0 : 1;
      await new Promise(r => setTimeout(r, 200));
      expect(Number(bpf.map('hits').get(slot))).toBeGreaterThan(0);
      expect(bpf.map('hits').get(1 - slot)).toBe(0n);
    } finally {
      bpf.close();
    }
  }
});

test('the next kind in the chain is used when the first is unavailable', async () => {
  const bpf = BPF.load({ text: chain, name: 'chain', disable: ['switch_raw'] });
  try {
    expect(bpf.programs.get('switch_btf')!.loaded).toBe(true);
    bpf.attachAll();
    await new Promise(r => setTimeout(r, 200));
    expect(Number(bpf.map('hits').get(0))).toBeGreaterThan(0);
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

describe('substitutes: a third alternative when a chain has no kind this kernel runs', () => {
  // fentry -> kprobe on vfs_read (neither works here), and the syscall tracepoint as the substitute,
  // counting reads of a size no one else uses by the process being watched
  const text = `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
BPF_ARRAY(hits, u64, 2);
SEC("fentry/vfs_read") int BPF_PROG(read_fentry) { u32 k = 0; map_increment(hits, k); return 0; }
SEC("kprobe/vfs_read") int BPF_KPROBE(read_kprobe) { u32 k = 0; map_increment(hits, k); return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_read)
{
	if (bpfkit_tgid() != targ_tgid || args->count != 12345)
		return 0;
	u32 k = 1;
	map_increment(hits, k);
	return 0;
}`;
  const substitutes = [{ programs: ['tracepoint__syscalls__*'], says: 'counted at syscalls', differs: 'syscalls only' }];
  const READS = 37;

  test('loaded instead of the chain, with why, and it counts exactly the reads done', async () => {
    const dd = spawn('sh', ['-c', `read go; exec dd if=/dev/zero of=/dev/null bs=12345 count=${READS} status=none`], { stdio: ['pipe', 'ignore', 'inherit'] });
    const exited = new Promise<number | null>(resolve => dd.on('exit', code => resolve(code)));
    const bpf = BPF.load({ text, name: 'subst', substitutes, rodata: { targ_tgid: dd.pid } });
    try {
      expect(bpf.substituted).toEqual({ says: 'counted at syscalls', reason: 'this kernel has no kprobes or fentry' });
      expect([...bpf.programs.values()].filter(p => p.loaded).map(p => p.name)).toEqual(['tracepoint__syscalls__sys_enter_read']);
      expect(bpf.programs.get('read_kprobe')!.skipped).toBe('replaced by the substitute (counted at syscalls)');
      expect(bpf.attachAll()).toBe(1);
      dd.stdin!.end('go\n');
      expect(await exited).toBe(0);
      expect(Number(bpf.map('hits').get(1))).toBe(READS);
      expect(Number(bpf.map('hits').get(0))).toBe(0);
    } finally {
      bpf.close();
      dd.kill('SIGKILL');
    }
  });

  test('not loaded where the chain runs; BPF.plan says which way a load would go', () => {
    const tp = `#include <bpfkit.h>
SEC("tp_btf/sched_switch") int BPF_PROG(switch_btf) { return 0; }
SEC("raw_tp/sched_switch") int BPF_PROG(switch_raw) { return 0; }
SEC("tracepoint/sched/sched_switch") int substitute_switch(void *ctx) { return 0; }`;
    const subs = [{ programs: ['substitute_*'], says: 'x', differs: 'y' }];
    const bpf = BPF.load({ text: tp, name: 'nosubst', substitutes: subs });
    try {
      expect(bpf.substituted).toBeUndefined();
      expect(bpf.programs.get('substitute_switch')!.skipped).toBe('substitute not needed');
      expect(bpf.programs.get('switch_raw')!.loaded).toBe(true);
    } finally {
      bpf.close();
    }
    expect(BPF.plan({ text, name: 'subst', substitutes })).toEqual({ substituted: { says: 'counted at syscalls', reason: 'this kernel has no kprobes or fentry' } });
    expect(BPF.plan({ text, name: 'subst' }).error).toMatch(/^cannot run fentry\/vfs_read or kprobe\/vfs_read: /);
  });

  test('a substitute that cannot run either leaves the chain\'s error', () => {
    const broken = [{ programs: ['tracepoint__syscalls__*'], replaces: ['read_fentry'], says: 'x', differs: 'y' }];
    // it replaces only read_fentry, so read_kprobe's group still fails: the original error stands
    expect(() => BPF.load({ text, name: 'subst', substitutes: broken })).toThrow(/^subst: cannot run fentry\/vfs_read or kprobe\/vfs_read: /);
  });
});

