// bin/bpfkit: the catalogue by subsystem, doctor, and running a tool by name.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { root } from './helpers.js';

const bpfkit = (...args: string[]) => spawnSync(path.join(root, 'bin', 'bpfkit'), args, { encoding: 'utf8', timeout: 60000 });

test('list shows tools by subsystem and whether they run here', () => {
  const r = bpfkit('list');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^SUBSYSTEM +TOOL +DESCRIPTION +RUNS HERE$/m);
  expect(r.stdout).toMatch(/^cpu +execsnoop +Trace new processes via exec\(\) syscalls +yes$/m);
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
  expect(h.stdout).toContain('Usage: execsnoop [options]');
  const bad = bpfkit('nosuchtool');
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("no tool or command named 'nosuchtool'");
});
