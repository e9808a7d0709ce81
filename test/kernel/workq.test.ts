// workq on the real kernel: N writes to /proc/sys/vm/stat_refresh run refresh_vm_stats exactly
// N x CPUs times: its bpftrace histogram counts exactly that many; -f keeps that function alone;
// --json.
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectUsageErrors, startTool } from './helpers.js';
import { REFRESH_FUNCTION, refreshVmStats } from './workqueue-work.js';

/** The rows of one key's bpftrace histogram ("@us[fn]: " up to the blank line). */
function keyRows(out: string, key: string): number[] {
  const block = out.split(`@us[${key}]: \n`)[1]?.split('\n\n')[0] ?? '';
  return [...block.matchAll(/^\[[^\]\)]+[\]\)] +(\d+) \|@* *\|$/gm)].map(m => Number(m[1]));
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('N stat_refresh writes: refresh_vm_stats ran N x CPUs times; -f that function only; --json', async () => {
  const all = startTool('workq');
  const only = startTool('workq', ['-f', REFRESH_FUNCTION]);
  const json = startTool('workq', ['--json', '-f', REFRESH_FUNCTION]);
  await Promise.all([all, only, json].map(attached));
  const items = refreshVmStats(5);
  expect(await Promise.all([all, only, json].map(t => t.stop()))).toEqual([0, 0, 0]);
  expect(all.stdout().split('\n')[0]).toBe('Tracing workqueue request latencies. Ctrl-C to end.');
  expect(sum(keyRows(all.stdout(), REFRESH_FUNCTION))).toBe(items);
  expect(sum(keyRows(only.stdout(), REFRESH_FUNCTION))).toBe(items);
  expect([...only.stdout().matchAll(/^@us\[(.*)\]: $/gm)].map(m => m[1])).toEqual([REFRESH_FUNCTION]);
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.map(validateRecord)).toEqual(records.map(() => []));
  expect(records[0]).toMatchObject({ tool: 'workq', kind: 'histogram', val_type: 'usecs', section_by: 'function', sections: [{ key: REFRESH_FUNCTION, total: items }] });
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('workq', [['-f', 'no_such_function_here'], ['0'], ['1', '0'], ['--nosuch']]);
});
