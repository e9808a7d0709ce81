// bin/bpfkit: the catalogue by subsystem, doctor, and running a tool by name.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseSection } from '../../lib/attach/sections.js';
import { loadSpecs } from '../../lib/cli/catalogue.js';
import { compile } from '../../lib/compile/index.js';
import { ElfFile } from '../../lib/syms/elf.js';
import { expectRefusedUnprivileged, root, runTool } from './helpers.js';

/** Every tool of the catalogue, by name (tools/<subsystem>/<tool>.ts). */
const allTools = fs.readdirSync(path.join(root, 'tools'), { withFileTypes: true }).filter(d => d.isDirectory())
  .flatMap(d => fs.readdirSync(path.join(root, 'tools', d.name)).filter(f => f.endsWith('.ts')).map(f => f.replace(/\.ts$/, '')));

const bpfkit = (...args: string[]) => spawnSync(path.join(root, 'bin', 'bpfkit'), args, { encoding: 'utf8', timeout: 60000 });

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
});

test('runs a tool by name; unknown names exit 2', () => {
  const h = bpfkit('execsnoop', '-h');
  expect(h.status).toBe(0);
  expect(h.stdout).toMatch(/^usage: execsnoop \[-h\] \[-T\] /);
  const bad = bpfkit('nosuchtool');
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("no tool or command named 'nosuchtool'");
});

test('every tool: unprivileged, one line naming root or CAP_BPF+CAP_PERFMON (exit 1); an unknown flag, one line (exit 2)', () => {
  expect(allTools.length).toBeGreaterThanOrEqual(9);
  for (const tool of allTools) {
    expectRefusedUnprivileged(tool);
    const bad = runTool(tool, ['--bogus-flag']);
    expect({ tool, code: bad.code, first: bad.stderr.split('\n')[0] }).toEqual({ tool, code: 2, first: `${tool}: Unknown argument: bogus-flag` });
  }
}, 120_000);

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
