// mlock on the real kernel: threads queueing on one tty's write mutex (test/kernel/lock-work.ts) give,
// with -p their PID, histograms keyed by that process and a stack from file_tty_write; the one stderr
// line naming the substitute; --json; bad input.
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectUsageErrors, startTool } from './helpers.js';
import { ttyContention } from './lock-work.js';

test('threads writing one tty: mutex waits by lock, tty write stack and comm, in bpftrace hists; --json', async () => {
  const p = ttyContention();
  await p.started();
  const text = startTool('mlock', ['-p', String(p.pid)]);
  const json = startTool('mlock', ['--json', '-p', String(p.pid)]);
  await Promise.all([text, json].map(attached));
  await p.release();
  expect(await Promise.all([text, json].map(t => t.stop()))).toEqual([0, 0]);
  p.end();
  // the substitute's one line; and, where a contention fired inside a BPF program (the other mlock's, or
  // another tool's), the count the kernel kept of those it could not run
  const [said, ...more] = text.stderr().trimEnd().split('\n');
  expect(said).toBe('mlock: contended mutex waits at lock:contention_begin/end: this kernel has no kprobes for mutex_lock()');
  expect(more.filter(l => !/^mlock: \d+ events? missed: BPF programs were already running on that CPU$/.test(l))).toEqual([]);
  const out = text.stdout();
  expect(out.split('\n')[0]).toBe('Tracing mutex_lock() latency... Hit Ctrl-C to end.');
  const keys = [...out.matchAll(/^@lock_latency_ns\[(0x[0-9a-f]+|\w+), \n((?: {8}\S+\n)*), (\S+)\]: \n((?:\[.*\n)+)/gm)]
    .map(m => ({ lock: m[1], caller: m[2].trim().split('\n')[0]?.trim(), comm: m[3], samples: [...m[4].matchAll(/\) +(\d+) \|/g)].reduce((a, x) => a + Number(x[1]), 0) }));
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.every(k => k.comm === 'ttylock')).toBe(true);
  const tty = keys.filter(k => /^file_tty_write\S*\+\d+$/.test(k.caller ?? ''));
  expect(tty.length).toBeGreaterThan(0);
  expect(tty.every(k => k.samples > 0)).toBe(true);
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.map(validateRecord)).toEqual(records.map(() => []));
  expect(records[0]).toMatchObject({ tool: 'mlock', kind: 'histogram', val_type: 'nsecs', section_by: 'lock_stack_comm' });
  expect(records[0].sections.some((s: { key: string; total: number }) => /;file_tty_write\S*\+\d+;/.test(s.key) && s.key.endsWith(';ttylock') && s.total > 0)).toBe(true);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('mlock', [['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '0'], ['--nosuch']]);
});
