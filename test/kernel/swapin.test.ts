// swapin on this kernel: BCC's probe (a kprobe on swap_read_folio) has no substitute here (swap-in has
// no tracepoint), so the tool exits 1 with one line naming the missing feature; bad input is still a
// usage error first.
import { expectRefusedUnprivileged, expectUsageErrors, runTool } from './helpers.js';

test('one line naming the missing feature, exit 1 (with --json too)', () => {
  const r = runTool('swapin', []);
  expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
    code: 1, stdout: '', stderr: 'swapin: cannot run kprobe/swap_read_folio|swap_readpage: needs kprobes: this kernel was built without CONFIG_KPROBES\n',
  });
  const j = runTool('swapin', ['--json', '-T', '1']);
  expect({ code: j.code, stdout: j.stdout, stderr: j.stderr }).toEqual({ code: 1, stdout: '', stderr: r.stderr });
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('swapin', [['-p', 'x'], ['-p', '999999999'], ['0'], ['1', '0']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('swapin');
});
