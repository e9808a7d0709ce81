// bin/bpfkit: the catalogue by subsystem, doctor, and running a tool by name.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseSection } from '../../lib/attach/sections.js';
import { loadSpecs } from '../../lib/cli/catalogue.js';
import { toolCommandLine } from '../../lib/cli/command.js';
import { compile } from '../../lib/compile/index.js';
import { Btf } from '../../lib/btf/index.js';
import { ElfFile } from '../../lib/syms/elf.js';
import { findToolFile, NOBODY, root, runTools, tmpDir, unprivilegedRefusal, type ToolRun } from './helpers.js';

/** Every tool of the catalogue, by name (tools/<subsystem>/<tool>.ts). */
const allTools = fs.readdirSync(path.join(root, 'tools'), { withFileTypes: true }).filter(d => d.isDirectory())
  .flatMap(d => fs.readdirSync(path.join(root, 'tools', d.name)).filter(f => f.endsWith('.ts')).map(f => f.replace(/\.ts$/, '')));

const bpfkit = (...args: string[]) => spawnSync(path.join(root, 'bin', 'bpfkit'), args, { encoding: 'utf8', timeout: 60000 });
const bpfkitAsNobody = (...args: string[]) => spawnSync(path.join(root, 'bin', 'bpfkit'), args, { encoding: 'utf8', timeout: 60000, uid: NOBODY, gid: NOBODY });

test('list shows tools by subsystem: what each ports, its probe kinds, output kind, and whether it runs here', () => {
  const r = bpfkit('list');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^SUBSYSTEM +TOOL +DESCRIPTION +PORTS +PROBES +OUTPUT +RUNS HERE$/m);
  expect(r.stdout).toMatch(/^cpu +execsnoop +Trace new processes via exec\(\) syscalls +bcc,libbpf-tools,bpftrace,book +tracepoint +event +yes$/m);
  expect(r.stdout).toMatch(/^cpu +runqlen +.* perf_event +histogram,counts +yes$/m);
  const cpu = bpfkit('list', 'cpu');
  expect(cpu.stdout).toContain('execsnoop');
  expect(cpu.stdout).not.toMatch(/^disk /m);
  const none = bpfkit('list', 'nosuch');
  expect(none.status).toBe(2);
  expect(none.stderr).toBe("bpfkit: no tools in subsystem 'nosuch'\n");
});

test('doctor names what this kernel lacks', () => {
  const r = bpfkit('doctor');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^kprobes +no +this kernel was built without CONFIG_KPROBES$/m);
  expect(r.stdout).toMatch(/^ringbuf +yes/m);
  expect(r.stdout).toMatch(/^tpBtf +yes/m);
  // kprobe.multi: the cause read from the kernel's own config, not a version guess (6.18 is past 5.18)
  const config = fs.existsSync('/proc/config.gz') ? zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString()
    : fs.readFileSync(`/boot/config-${os.release()}`, 'utf8');
  if (!/^CONFIG_FPROBE=y$/m.test(config)) {
    expect(r.stdout).toMatch(/^kprobeMulti +no +this kernel was built without CONFIG_FPROBE \(kprobe\.multi links\)$/m);
  } else {
    expect(r.stdout).toMatch(/^kprobeMulti +yes/m);
  }
  expect(r.stdout).not.toMatch(/need Linux/);
});

test('unprivileged, list and doctor say root is needed: one line, exit 1 (no stack trace, no wrong answers)', () => {
  for (const cmd of ['list', 'doctor']) {
    const r = bpfkitAsNobody(cmd);
    expect({ cmd, code: r.status, stdout: r.stdout, stderr: r.stderr })
      .toEqual({ cmd, code: 1, stdout: '', stderr: `bpfkit: ${cmd} needs root (or CAP_BPF and CAP_PERFMON) to probe the kernel\n` });
  }
});

test('list without tracefs: the tools on tracepoints say why in their row; exit 0', () => {
  // tracefs unmounted in a private mount namespace only; a fresh runs-here cache (the compiled
  // objects and bundles are shared: they are keyed by content)
  const cache = tmpDir('bpfkit-cache-');
  const shared = path.join(os.homedir(), '.cache', 'bpfkit');
  for (const d of ['obj', 'pch', 'run']) if (fs.existsSync(path.join(shared, d))) fs.symlinkSync(path.join(shared, d), path.join(cache, d));
  const tracefs = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].filter(d => fs.existsSync(`${d}/events`));
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
    `${tracefs.map(d => `umount ${d} && `).join('')}exec ${path.join(root, 'bin', 'bpfkit')} list`],
  { encoding: 'utf8', timeout: 120000, env: { ...process.env, BPFKIT_CACHE: cache } });
  fs.rmSync(cache, { recursive: true, force: true });
  expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/^cpu +execsnoop +.* no: tracepoint syscalls:sys_enter_execve cannot be read: tracefs is not mounted/m);
  expect(r.stdout).toMatch(/^cpu +exitsnoop +.* no: tracepoint sched:sched_process_exit cannot be read: tracefs is not mounted/m);
}, 150_000);

test('--version prints the package version; the help is for users (no docs command)', () => {
  const v = bpfkit('--version');
  expect({ code: v.status, out: v.stdout }).toEqual({ code: 0, out: `bpfkit ${JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version}\n` });
  const h = bpfkit('--help');
  expect(h.status).toBe(0);
  expect(h.stdout).toContain('bpfkit --version');
  expect(h.stdout).not.toMatch(/docs/);
});

test('runs a tool by name; unknown names exit 2', () => {
  const h = bpfkit('execsnoop', '-h');
  expect(h.status).toBe(0);
  expect(h.stdout).toMatch(/^usage: execsnoop \[-h\] \[-T\] /);
  const bad = bpfkit('nosuchtool');
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("no tool or command named 'nosuchtool'");
});

test('every tool: unprivileged, one line naming root or CAP_BPF+CAP_PERFMON (exit 1); an unknown flag, one line (exit 2)', async () => {
  expect(allTools.length).toBeGreaterThanOrEqual(9);
  // a tool with a required positional (deadlock's <pid>) gets one, so that privileges are what it refuses on
  const positional = (tool: string) => /positional: '<\w+>'/.exec(fs.readFileSync(findToolFile(tool), 'utf8')) ? [String(process.pid)] : [];
  const results = await runTools(allTools.flatMap((tool): ToolRun[] => [
    [tool, positional(tool), { uid: NOBODY }],
    [tool, [...positional(tool), '--bogus-flag']],
  ]));
  allTools.forEach((tool, i) => {
    const [unprivileged, bad] = [results[2 * i]!, results[2 * i + 1]!];
    expect({ tool, code: unprivileged.code, stderr: unprivileged.stderr })
      .toEqual({ tool, code: 1, stderr: unprivilegedRefusal(tool) });
    expect({ tool, code: bad.code, stderr: bad.stderr }).toEqual({ tool, code: 2, stderr: `${tool}: Unknown argument: bogus-flag\n` });
  });
}, 300_000);

// V8's --lite-mode (no optimizing compilers) saves ~4.5 MiB of a start; it suits the tools whose JS runs
// once an interval, and would slow the ones that decode and print every event (bin/bpfkit-node).
test('a tool\'s shebang gives --lite-mode exactly when its output is histograms, counts or top screens', async () => {
  const wrong: string[] = [];
  for (const spec of await loadSpecs()) {
    const aggregates = [spec.output].flat().every(o => o === 'histogram' || o === 'counts' || o === 'top');
    const lite = toolCommandLine(spec.file).includes('--lite-mode'); // what the shebang gives node
    if (lite !== aggregates) wrong.push(`${spec.name} (${[spec.output].flat().join(', ')}): ${lite ? 'has' : 'lacks'} --lite-mode`);
  }
  expect(wrong).toEqual([]);
});

test('every tool\'s declared probes (ToolSpec.probes) are its program\'s SEC()s, kind by kind', async () => {
  for (const spec of await loadSpecs()) {
    const elf = ElfFile.fromBuffer(compile({ text: spec.program, name: `${spec.name}.bpf.c` }).elf);
    const actual: Record<string, string[]> = {};
    for (const s of elf.sections()) {
      const probe = parseSection(s.name);
      if (probe.kind === 'other') continue;
      (actual[probe.kind] ??= []).push(probe.target);
    }
    // a program attached by hand (perf_event) names no target in SEC(): only its kind is compared
    const byHand = new Set(Object.keys(actual).filter(kind => actual[kind]!.every(t => t === '')));
    const normal = (byKind: Record<string, string[]>) =>
      Object.fromEntries(Object.entries(byKind).map(([kind, targets]) => [kind, byHand.has(kind) ? 'attached by hand' : [...new Set(targets)].sort()]));
    const [declared, found] = [normal(spec.probes as Record<string, string[]>), normal(actual)];
    expect({ tool: spec.name, probes: declared }).toEqual({ tool: spec.name, probes: found });
  }
});

/** Where a type leaves bytes that no member covers (padding), as "struct k: 4 bytes at 4"; [] when none. */
function holes(btf: Btf, id: number, at = 0): string[] {
  const t = btf.resolve(id);
  if (t.kind === 'array') return holes(btf, t.array!.type, at);
  if (t.kind === 'union') {
    const short = t.members!.filter(m => btf.sizeof(m.type) < t.size!);
    return short.length ? [`${btf.typeName(t.id)} at ${at}: members shorter than the union`] : [];
  }
  if (t.kind !== 'struct') return [];
  const found: string[] = [];
  let covered = 0; // bits
  for (const m of [...t.members!].sort((a, b) => a.bitOffset - b.bitOffset)) {
    if (m.bitOffset > covered) found.push(`${btf.typeName(t.id)}: ${(m.bitOffset - covered) / 8} bytes before .${m.name} (at ${at + covered / 8})`);
    found.push(...holes(btf, m.type, at + m.bitOffset / 8));
    covered = Math.max(covered, m.bitOffset + (m.bitSize || btf.sizeof(m.type) * 8));
  }
  if (covered < t.size! * 8) found.push(`${btf.typeName(t.id)}: ${t.size! - covered / 8} bytes after its last member`);
  return found;
}

// A hash map compares keys byte for byte, padding included, and clang leaves a local's padding as stack
// garbage: a key with a hole finds its entry or not by chance (tcppktlat did). Padding is named instead.
test('every hash map\'s key has no padding: each byte is a named member', async () => {
  const hashed = new Set([1, 5, 9, 10, 13]); // HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, HASH_OF_MAPS
  const found: string[] = [];
  for (const spec of await loadSpecs()) {
    const elf = ElfFile.fromBuffer(compile({ text: spec.program, name: `${spec.name}.bpf.c` }).elf);
    const btf = Btf.parse(elf.section('.BTF')!);
    const maps = btf.find('.maps', 'datasec');
    for (const v of maps?.vars ?? []) {
      const variable = btf.type(v.type);
      const def = btf.resolve(variable.type!);
      const member = (name: string) => def.members?.find(m => m.name === name);
      const type = member('type') && btf.resolve(btf.resolve(member('type')!.type).type!).array?.nelems;
      const key = member('key');
      if (!key || type === undefined || !hashed.has(type)) continue;
      for (const h of holes(btf, btf.resolve(key.type).type!)) found.push(`${spec.name} ${variable.name}: ${h}`);
    }
  }
  expect(found).toEqual([]);
});
