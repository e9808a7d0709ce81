// vfsstat needs fentry or kprobes: on this kernel (neither) it must say so in one line. Its events are
// tested in the VM lane (test/vm/lane.ts), on a kernel that has both.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expectUsageErrors, root, runTool } from './helpers.js';

test('names the missing kernel features in one line, exit 1', () => {
  const r = runTool('vfsstat', ['1', '1']);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('vfsstat: cannot run fentry/vfs_read or kprobe/vfs_read: needs fentry (BPF trampolines): ' +
    'the kernel refuses to load fentry programs (EPERM); needs kprobes: this kernel was built without CONFIG_KPROBES\n');
});

test('the catalogue says why it cannot run here', () => {
  const r = spawnSync(path.join(root, 'bin', 'bpfkit'), ['list', 'fs'], { encoding: 'utf8' });
  expect(r.stdout).toMatch(/^fs +vfsstat +.* no: cannot run fentry\/vfs_read or kprobe\/vfs_read: .*CONFIG_KPROBES$/m);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('vfsstat', [['-1'], ['x'], ['1', '2', '3'], ['--bogus']]);
});
