// tcpnagle on this kernel: tcp_write_xmit has no tracepoint and the kernel has no kprobes, so the tool
// stops with the one line naming that, exit 1, loading nothing (its kprobe programs are for kernels with
// kprobes); where the kprobe PMU exists it must run instead.
import fs from 'node:fs';
import { expectUsageErrors, loadedProgramsNamed, runTool } from './helpers.js';
import { refusal } from './catalogue-runs.js';

const haveKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe');

(haveKprobes ? test.skip : test)('no kprobes here: one line naming them, exit 1, nothing loaded', () => {
  for (const args of [[], ['--json']]) {
    const r = runTool('tcpnagle', args);
    expect([args, r.code]).toEqual([args, 1]);
    expect(r.stderr).toMatch(refusal('tcpnagle'));
    expect(r.stderr).toBe('tcpnagle: this kernel has no kprobes (tcp_write_xmit has no tracepoint)\n');
    expect(r.stdout).toBe('');
  }
  expect(loadedProgramsNamed(['xmit_entry', 'xmit_return'])).toEqual([]);
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('tcpnagle', [['--bogus'], ['extra'], ['-p', '1']]);
});
