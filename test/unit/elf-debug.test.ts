// dropDebugSections against llvm-strip -g on a real clang object: the same code, relocations, symbols'
// sections, .BTF and .BTF.ext; the DWARF sections left empty.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { includeDir } from '../../lib/compile/index.js';
import { dropDebugSections } from '../../lib/compile/elf.js';

const program = `#include <bpfkit.h>
BPF_HASH(counts, u32, u64);
SEC("tp_btf/sched_switch") int BPF_PROG(on_switch, bool preempt, struct task_struct *prev) {
	u32 pid = BPF_CORE_READ(prev, pid);
	map_increment(counts, pid);
	return 0;
}`;

function run(cmd: string, args: string[], input?: string): Buffer {
  const r = spawnSync(cmd, args, { input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-elf-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the DWARF goes, everything libbpf reads stays byte for byte', () => {
  const full = path.join(dir, 'full.o');
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
  run('clang', ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, '-I', includeDir, '-c', '-x', 'c', '-', '-o', full], program);
  const stripped = path.join(dir, 'stripped.o');
  fs.copyFileSync(full, stripped);
  run('llvm-strip', ['-g', stripped]);
  const ours = path.join(dir, 'ours.o');
  const original = fs.readFileSync(full);
  fs.writeFileSync(ours, dropDebugSections(original));

  const size = (f: string) => fs.statSync(f).size;
  expect(size(full)).toBeGreaterThan(10 * size(ours));
  expect(size(ours)).toBeLessThan(size(stripped) * 1.1);

  const dump = (f: string, ...args: string[]) => run('llvm-objdump', [...args, f]).toString().replace(f, 'X');
  expect(dump(ours, '-d', '-r')).toBe(dump(stripped, '-d', '-r'));
  for (const section of ['.BTF', '.BTF.ext', '.maps', 'license']) {
    const a = path.join(dir, `a${section}`);
    const b = path.join(dir, `b${section}`);
    run('llvm-objcopy', [`--dump-section=${section}=${a}`, ours, path.join(dir, 'scratch1.o')]);
    run('llvm-objcopy', [`--dump-section=${section}=${b}`, stripped, path.join(dir, 'scratch2.o')]);
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
  }
  // Every DWARF section is still listed (indices unchanged) but empty.
  const sections = run('llvm-readelf', ['-S', '-W', ours]).toString().split('\n').filter(l => /\.debug_/.test(l));
  expect(sections.length).toBeGreaterThan(3);
  for (const l of sections) expect(l).toMatch(/\s0{6}\s/); // the Size column
  expect(run('llvm-readelf', ['-s', '-W', ours]).toString()).toContain('on_switch');
});

test('anything but an ELF64 relocatable object comes back untouched', () => {
  const junk = Buffer.from('not an elf at all, just text');
  expect(dropDebugSections(junk)).toBe(junk);
  const shared = fs.readFileSync('/bin/true');
  expect(dropDebugSections(shared)).toBe(shared);
});
