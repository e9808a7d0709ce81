// The code generator on synthetic resolved probes: which program serves which probe, the generated C
// (compiled by clang: it must be valid BPF C), per-probe bodies, entry/return pairs; the syscall table
// against the kernel's uapi header where the machine has it.
import fs from 'node:fs';
import { parseSection } from '../../lib/attach/sections.js';
import { compile } from '../../lib/compile/index.js';
import { parseProbeSpec, type ResolvedProbe } from '../../lib/probes/index.js';
import { generateProgram } from '../../lib/probes/codegen.js';
import { syscallNumber } from '../../lib/probes/syscalls.js';
import { ElfFile } from '../../lib/syms/elf.js';

const spec = (t: string) => parseProbeSpec(t);
const probes: ResolvedProbe[] = [
  { id: 0, spec: spec('t:syscalls:sys_enter_getppid'), type: 'tracepoint', category: 'syscalls', event: 'sys_enter_getppid', label: 'syscalls:sys_enter_getppid' },
  { id: 1, spec: spec('t:syscalls:sys_exit_newuname'), type: 'tracepoint', category: 'syscalls', event: 'sys_exit_newuname', label: 'syscalls:sys_exit_newuname' },
  { id: 2, spec: spec('t:sched:sched_switch'), type: 'tracepoint', category: 'sched', event: 'sched_switch', label: 'sched:sched_switch' },
  { id: 3, spec: spec('vfs_*'), type: 'kprobe', function: 'vfs_read', label: 'vfs_read' },
  { id: 4, spec: spec('p::do_sys_openat2+0x10'), type: 'kprobe', function: 'do_sys_openat2', offset: 16, label: 'do_sys_openat2' },
  { id: 5, spec: spec('r::vfs_write'), type: 'kretprobe', function: 'vfs_write', label: 'vfs_write' },
  { id: 6, spec: spec('c:malloc'), type: 'uprobe', binary: '/lib/libc.so.6', symbol: 'malloc', address: 0x1000n, fileOffset: 0x1000, label: 'malloc' },
  { id: 7, spec: spec('r:c:free'), type: 'uretprobe', binary: '/lib/libc.so.6', symbol: 'free', address: 0x2000n, fileOffset: 0x2000, label: 'free' },
  { id: 8, spec: spec('u:python3:function__entry'), type: 'usdt', binary: '/usr/bin/python3', provider: 'python', name: 'function__entry', args: '', sites: 1, label: 'function__entry' },
];

const sections = (text: string) => ElfFile.fromBuffer(compile({ text, name: 'codegen-test.bpf.c' }).elf).sections()
  .map(s => parseSection(s.name)).filter(s => s.kind !== 'other').map(s => `${s.kind}${s.target ? `/${s.target}` : ''}`).sort();

test('one program per kind; syscall tracepoints at raw sys_enter/sys_exit; ids through cookies', () => {
  const gen = generateProgram(probes, { prelude: 'BPF_PERCPU_ARRAY(counts, u64, BPFKIT_NPROBES);', onHit: 'map_increment(counts, probe_id);' });
  expect(gen.methods).toEqual(process.arch === 'x64'
    ? ['raw syscall', 'raw syscall', 'tracepoint', 'kprobe', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'usdt']
    : ['tracepoint', 'tracepoint', 'tracepoint', 'kprobe', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'usdt']);
  if (process.arch === 'x64') expect([...gen.syscallIds.enter, ...gen.syscallIds.exit]).toEqual([[110, 0], [63, 1]]);
  expect(gen.text).toContain('#define BPFKIT_NPROBES 9');
  expect(gen.text).toContain('#include <bpf/usdt.bpf.h>');
  expect(gen.text).toContain('bpfkit_on_hit(ctx, bpf_get_attach_cookie(ctx))');
  expect(gen.text).toContain('bpfkit_on_hit(ctx, bpf_usdt_cookie(ctx))');
  expect(gen.rodata({ pid: 42, cpu: 1 })).toEqual({ targ_tgid: 42, targ_cpu: 1 });
  expect(gen.rodata()).toEqual({ targ_tgid: 0, targ_cpu: -1 });
  expect(sections(gen.text)).toEqual(['kprobe', 'kprobe.multi', 'kretprobe.multi', 'raw_tp/sys_enter', 'raw_tp/sys_exit', 'tracepoint', 'uprobe', 'uretprobe', 'usdt']);
});

test('per-probe bodies are a switch on the id; with tracepointArgs, syscalls stay tracepoints and `args` is typed', () => {
  const tps = probes.slice(0, 3);
  const gen = generateProgram(tps, { onHit: p => `bpf_printk("${p.label} %d", ${p.id});`, tracepointArgs: true });
  expect(gen.methods).toEqual(['tracepoint', 'tracepoint', 'tracepoint']);
  expect(gen.text).toMatch(/case 2: \{ \/\* sched:sched_switch \*\/\n\t\tstruct tracepoint__sched__sched_switch \*args = ctx;\n\t\tbpf_printk\("sched:sched_switch %d", 2\);/);
  expect(gen.text).toContain('struct tracepoint__syscalls__sys_enter_getppid {');
  expect(sections(gen.text)).toEqual(['tracepoint']);
});

test('entry/return pairs: a return program for every function entry, same ids', () => {
  const fns = [{ ...probes[3]!, id: 0 }, { ...probes[6]!, id: 1 }];
  const gen = generateProgram(fns, { onHit: 'bpf_printk("in");', onReturn: 'bpf_printk("out");' });
  expect(gen.programs).toMatchObject({ kprobe: 'bpfkit_kprobe', uprobe: 'bpfkit_uprobe', 'kretprobe pair': 'bpfkit_kretprobe_pair', 'uretprobe pair': 'bpfkit_uretprobe_pair' });
  expect(gen.text).toContain('static __always_inline int bpfkit_on_return(void *ctx, u32 probe_id)');
  expect(sections(gen.text)).toEqual(['kprobe.multi', 'kretprobe.multi', 'uprobe', 'uretprobe']);
});

test('ids must be the probes\' indexes', () => {
  expect(() => generateProgram([{ ...probes[2]!, id: 5 }], { onHit: '' })).toThrow('probe sched:sched_switch has id 5, not its index 0');
});

const header = ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', '/usr/include/asm/unistd_64.h'].find(f => fs.existsSync(f));
(process.arch === 'x64' && header ? test : test.skip)('the x86-64 syscall table agrees with the uapi header (tracepoint names where they differ)', () => {
  const renamed: Record<string, string> = { stat: 'newstat', fstat: 'newfstat', lstat: 'newlstat', uname: 'newuname', umount2: 'umount', sendfile: 'sendfile64' };
  let n = 0;
  for (const m of fs.readFileSync(header!, 'utf8').matchAll(/^#define __NR_(\w+) (\d+)$/gm)) {
    expect([m[1], syscallNumber(renamed[m[1]!] ?? m[1]!)]).toEqual([m[1], Number(m[2])]);
    n++;
  }
  expect(n).toBeGreaterThan(300);
});

test('fentry: a function named exactly gets fentry (fexit) with a kprobe (kretprobe) alternative; patterns and offsets keep kprobes', () => {
  const gen = generateProgram(probes.slice(3, 6).map((p, id) => ({ ...p, id })), { onHit: 'bpf_printk("hit");', fentry: true });
  expect(gen.methods).toEqual(['kprobe', 'kprobe', 'fexit']);
  expect([...gen.perFunction]).toEqual([[2, ['bpfkit_fexit_2', 'bpfkit_kretprobe_2']]]);
  expect(sections(gen.text)).toEqual(['fexit/vfs_write', 'kprobe', 'kprobe.multi', 'kretprobe/vfs_write']);
  const exact = generateProgram([{ ...probes[3]!, id: 0, spec: spec('vfs_read') }], { onHit: '', onReturn: '', fentry: true });
  expect([...exact.perFunction]).toEqual([[0, ['bpfkit_fentry_0', 'bpfkit_kprobe_0', 'bpfkit_fexit_0', 'bpfkit_kretprobe_0']]]);
  expect(sections(exact.text)).toEqual(['fentry/vfs_read', 'fexit/vfs_read', 'kprobe/vfs_read', 'kretprobe/vfs_read']);
});
