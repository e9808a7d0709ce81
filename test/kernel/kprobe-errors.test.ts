// The VM lane's objects (test/vm/programs.ts) on this machine's kernel. Where kprobes are missing and
// fentry is refused (this host: Linux 6.18 without CONFIG_KPROBES), every kprobe/fentry request ends in
// one clear error naming the missing feature; where the kernel has them, the same objects load (the
// lane in the VM checks their events).
import { BPF } from '../../lib/bpf.js';
import { features, kindSupported } from '../../lib/attach/features.js';
import { resolveKernelFunction } from '../../lib/attach/kprobes.js';
import { BY_HAND, READS, RENAMED } from '../vm/programs.js';

const NO_KPROBES = 'needs kprobes: this kernel was built without CONFIG_KPROBES';
const kprobes = features.kprobes().ok;
const fentry = kindSupported('fentry').ok;
const noProbes = !kprobes && !fentry;
const onlyHere = (cond: boolean) => (cond ? test : test.skip);

onlyHere(noProbes)('fentry -> kprobe and fexit -> kretprobe chains: one error naming both missing features', () => {
  let message = '';
  try {
    BPF.load({ text: READS, name: 'lane_reads', rodata: { targ_tgid: process.pid, targ_ino: 1 } }).close();
  } catch (e) {
    message = (e as Error).message;
  }
  // the first chain that cannot run is reported, with every kind it tried
  expect(message).toMatch(/^lane_reads: cannot run (fentry\/vfs_read or kprobe\/vfs_read|fexit\/vfs_read or kretprobe\/vfs_read): /);
  expect(message).toContain(NO_KPROBES);
  expect(message).toMatch(/needs f(entry|exit) \(BPF trampolines\): /);
  expect(BPF.check({ text: READS, name: 'lane_reads' })).toContain(NO_KPROBES);
});

onlyHere(noProbes)('with the trampolines ruled out, the kprobe programs fail the same clear way', () => {
  expect(() => BPF.load({ text: READS, name: 'lane_reads', disable: ['read_fentry', 'read_fexit'] }))
    .toThrow(`lane_reads: cannot run kprobe/vfs_read: ${NO_KPROBES}`);
});

onlyHere(noProbes)('a function with alternative names (SEC("fentry/a|b")): the same one-line error', () => {
  expect(BPF.check({ text: RENAMED, name: 'lane_renamed' })).toBe(
    'cannot run fentry/bpfkit_vfs_read_renamed|vfs_read or kprobe/bpfkit_vfs_read_renamed|vfs_read: ' +
    `needs fentry (BPF trampolines): the kernel refuses to load fentry programs (EPERM); ${NO_KPROBES}`);
});

onlyHere(!kprobes)('kprobes attached by hand (one function, a glob): the clear error', () => {
  // SEC("kprobe") names no function: whether the program loads (the prog type exists) or is skipped
  // as optional, attaching it is what fails
  const bpf = BPF.load({ text: BY_HAND, name: 'lane_by_hand', optional: ['multi_entry', 'multi_link', 'syscall_entry', 'offset_entry'] });
  try {
    expect(() => bpf.attachKprobe('syscall_entry', 'sys_openat')).toThrow(NO_KPROBES);
    expect(() => bpf.attachKprobeMulti('multi_entry', 'vfs_read*')).toThrow(NO_KPROBES);
    expect(() => bpf.attachKprobe('offset_entry', 'vfs_read', { offset: 5 })).toThrow(NO_KPROBES);
  } finally {
    bpf.close();
  }
});

onlyHere(kprobes || fentry)('where the kernel has kprobes or fentry, the lane\'s objects load', () => {
  const bpf = BPF.load({ text: READS, name: 'lane_reads', rodata: { targ_tgid: process.pid, targ_ino: 1 } });
  try {
    expect([...bpf.programs.values()].filter(p => p.loaded)).toHaveLength(2);
  } finally {
    bpf.close();
  }
});

test('a function no kernel has: the clear error', () => {
  expect(() => resolveKernelFunction('bpfkit_no_such_function'))
    .toThrow('kernel function bpfkit_no_such_function is not traceable on this kernel (missing, inlined or notrace)');
});
