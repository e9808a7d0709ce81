// vmlinux.h cut to what a program names (lib/compile/vmlinux-cut.ts): what a cut keeps and what it only
// declares, and, for every tool of the catalogue, that its cut compiles on the first try; for a sample, to
// the object the whole header gives (the same instructions and relocations, the same kernel types for
// CO-RE to find; the BTF itself differs: a type only pointed at is a forward declaration there).
import fs from 'node:fs';
import path from 'node:path';
import { loadSpecs } from '../../lib/cli/catalogue.js';
import { cacheDir, ClangCompiler, compile, includeDir, shippedIndexDir } from '../../lib/compile/index.js';
import { startsWithBpfkitInclude } from '../../lib/compile/pch.js';
import { runAsync } from '../../lib/compile/run.js';
import { tracepointStructs } from '../../lib/compile/tracepoints.js';
import { indexVmlinux, vmlinuxCutFor } from '../../lib/compile/vmlinux-cut.js';
import { eachInParallel } from '../../lib/util/parallel.js';
import { tmpDir } from './helpers.js';

const cutOf = (source: string, cflags: string[] = []) =>
  vmlinuxCutFor({ source, cflags, includeDir, cacheDir: cacheDir(), shippedIndexDir });
const defines = (cut: string, what: string) => new RegExp(`^${what} \\{`, 'm').test(cut);
const declares = (cut: string, what: string) => new RegExp(`^${what};$`, 'm').test(cut);

test('a type the program names is defined, with what it holds by value; one behind a pointer is declared', () => {
  const cut = cutOf('#include <bpfkit.h>\nu32 f(struct task_struct *t) { return BPF_CORE_READ(t, tgid); }\n')!;
  expect(defines(cut, 'struct task_struct')).toBe(true);
  expect(defines(cut, 'struct sched_entity')).toBe(true); // task_struct.se, by value
  expect(declares(cut, 'struct mm_struct')).toBe(true); // task_struct.mm, a pointer
  expect(defines(cut, 'struct mm_struct')).toBe(false);
  expect(cut.split('\n').length).toBeLessThan(10_000); // of vmlinux.h's 135k
  // a pointer member the program names is followed: t->mm->total_vm needs struct mm_struct
  const viaMember = cutOf('#include <bpfkit.h>\nu64 f(struct task_struct *t) { return BPF_CORE_READ(t, mm, total_vm); }\n')!;
  expect(defines(viaMember, 'struct mm_struct')).toBe(true);
});

test('enum constants and typedefs bring their declarations; libbpf\'s helper prototypes only declare their types', () => {
  const cut = cutOf('#include <bpfkit.h>\nint f(void) { return BPF_F_CURRENT_CPU + sizeof(pid_t); }\n')!;
  expect(cut).toMatch(/^\tBPF_F_CURRENT_CPU = /m);
  expect(cut).toMatch(/^typedef __kernel_pid_t pid_t;$/m);
  expect(declares(cut, 'struct __sk_buff')).toBe(true); // bpf_skb_* helpers' parameters
  expect(defines(cut, 'struct __sk_buff')).toBe(false);
  // identifiers that name Object.prototype's members are plain identifiers
  expect(cutOf('#include <bpfkit.h>\nint constructor, toString, __proto__;\n')).toContain('#define __VMLINUX_H__');
});

test('no cut where the program has no vmlinux.h or wants its types without preserve_access_index', () => {
  expect(cutOf('#include <linux/bpf.h>\nint x;\n')).toBeUndefined();
  expect(cutOf('#define BPF_NO_PRESERVE_ACCESS_INDEX\n#include <bpfkit.h>\n')).toBeUndefined();
  expect(cutOf('#include <bpfkit.h>\n', ['-DBPF_NO_PRESERVE_ACCESS_INDEX'])).toBeUndefined();
});

test('the index npm run build ships is the one a compile would make', () => {
  const text = fs.readFileSync(path.join(includeDir, 'vmlinux.h'), 'utf8');
  const shipped = fs.readdirSync(shippedIndexDir);
  expect(shipped).toHaveLength(1);
  const saved = JSON.parse(fs.readFileSync(path.join(shippedIndexDir, shipped[0]!), 'utf8'));
  const made = indexVmlinux(text);
  expect(saved).toEqual(JSON.parse(JSON.stringify({ ...made, tags: [...made.tags], names: [...made.names] })));
});

// Compared in full (objects and CO-RE types) on a sample that spans the catalogue's headers and probe
// kinds; every other program is compiled through its cut once, which must succeed at the first try.
const compared = new Set(['kpages', 'cpuwalk', 'bitesize', 'criticalstat', 'gethostlatency', 'runqlat', 'execsnoop', 'tcplife',
  'funccount', 'trace', 'biosnoop', 'memleak', 'tcpdrop', 'profile', 'offcputime', 'sslsniff', 'netqtop', 'tcprtt']);

test('every tool\'s program: its cut compiles at once; for a sample, to the object the whole header (through the PCH) gives', async () => {
  const cache = tmpDir('bpfkit-cut-');
  const saved = process.env.BPFKIT_CACHE;
  process.env.BPFKIT_CACHE = cache;
  try {
    compile({ text: '#include <bpfkit.h>\n', name: 'start_pch.bpf.c' }); // starts the PCH build
    const pchDir = path.join(cache, 'pch');
    const deadline = Date.now() + 60_000;
    let pch: string | undefined;
    while (!(pch = fs.readdirSync(pchDir).find(f => f.endsWith('.pch'))) || fs.readdirSync(pchDir).some(f => f.endsWith('.lock'))) {
      if (Date.now() > deadline) throw new Error('no PCH built');
      await new Promise(r => setTimeout(r, 50));
    }
    const flags = new ClangCompiler().flags();
    const wholeHeader = (program: string) => (startsWithBpfkitInclude(program, includeDir) ? ['-include-pch', path.join(pchDir, pch!)] : []);
    const specs = await loadSpecs();
    const problems: string[] = [];
    const objects = (f: string) => runAsync({ cmd: 'llvm-objdump', args: ['-d', '-r', f] }).then(r => r.stdout.toString().split('\n').slice(2).join('\n'));
    const coreTypes = async (f: string) => {
      const r = await runAsync({ cmd: 'bpftool', args: ['gen', 'min_core_btf', '/sys/kernel/btf/vmlinux', `${f}.btf`, f] });
      return r.status === 0 ? fs.readFileSync(`${f}.btf`).toString('hex') : `none: ${r.stderr.replaceAll(f, '')}`; // no CO-RE at all
    };
    await eachInParallel(specs, 2, async spec => {
      const source = `${tracepointStructs(spec.program)}#line 1 "${spec.name}.bpf.c"\n${spec.program}`;
      const cut = cutOf(source);
      if (cut === undefined) return; // no vmlinux.h
      const [whole, viaCut] = [path.join(cache, `${spec.name}.whole.o`), path.join(cache, `${spec.name}.cut.o`)];
      const b = await runAsync({ cmd: 'clang', args: [...flags, '-c', '-x', 'c', '-', '-o', viaCut], input: cut + source });
      if (b.status !== 0) return void problems.push(`${spec.name}: ${b.stderr.split('\n').find(l => /error/.test(l))}`);
      if (!compared.has(spec.name)) return;
      const a = await runAsync({ cmd: 'clang', args: [...flags, ...wholeHeader(spec.program), '-c', '-x', 'c', '-', '-o', whole], input: source });
      if (a.status !== 0) return void problems.push(`${spec.name}: does not compile with the whole header`);
      if (await objects(whole) !== await objects(viaCut)) problems.push(`${spec.name}: other instructions or relocations`);
      else if (await coreTypes(whole) !== await coreTypes(viaCut)) problems.push(`${spec.name}: other CO-RE types`);
    });
    expect(problems).toEqual([]);
    expect(specs.filter(s => compared.has(s.name))).toHaveLength(compared.size);
  } finally {
    if (saved === undefined) delete process.env.BPFKIT_CACHE;
    else process.env.BPFKIT_CACHE = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  }
}, 240_000);
