// wqlat on the real kernel: N writes to /proc/sys/vm/stat_refresh queue exactly N x CPUs
// refresh_vm_stats work items on the "events" workqueue; with -f that function, the histogram holds
// exactly those; -W puts them under "events", -w events keeps them, -w another workqueue drops them.
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectUsageErrors, startTool } from './helpers.js';
import { histRows, histSection } from './disk-workload.js';
import { REFRESH_FUNCTION, REFRESH_WORKQUEUE, refreshVmStats } from './workqueue-work.js';

const total = (text: string) => histRows(text).reduce((a, r) => a + r.count, 0);

test('N stat_refresh writes: N x CPUs items, in "events" (-W, -w), none for another -w; -N; --json', async () => {
  const fn = ['-f', REFRESH_FUNCTION];
  const tools = {
    plain: startTool('wqlat', fn),
    perWq: startTool('wqlat', ['-W', ...fn]),
    events: startTool('wqlat', ['-w', REFRESH_WORKQUEUE, '-N', ...fn]),
    other: startTool('wqlat', ['-w', 'events_unbound', ...fn]),
    json: startTool('wqlat', ['--json', '-W', ...fn]),
  };
  const all = Object.values(tools);
  await Promise.all(all.map(attached));
  const items = refreshVmStats(5);
  expect(await Promise.all(all.map(t => t.stop()))).toEqual(all.map(() => 0));
  const out = tools.plain.stdout();
  expect(out.split('\n')[0]).toBe('Tracing work queue request latency time... Hit Ctrl-C to end.');
  expect(out).toContain('     usecs               : count     distribution\n');
  expect(total(out)).toBe(items);
  expect(total(histSection(tools.perWq.stdout(), 'wqname', REFRESH_WORKQUEUE) ?? '')).toBe(items);
  expect([...tools.perWq.stdout().matchAll(/^wqname = (.*)$/gm)].map(m => m[1])).toEqual([REFRESH_WORKQUEUE]);
  expect(tools.events.stdout()).toContain('     nsecs               : count     distribution\n');
  expect(total(tools.events.stdout())).toBe(items);
  expect(total(tools.other.stdout())).toBe(0);
  const records = tools.json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.map(validateRecord)).toEqual(records.map(() => []));
  expect(records[0]).toMatchObject({ tool: 'wqlat', kind: 'histogram', val_type: 'usecs', section_by: 'wqname', sections: [{ key: REFRESH_WORKQUEUE, total: items }] });
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('wqlat', [['-w', 'a_workqueue_name_of_24_ch'], ['-f', 'no_such_function_here'], ['-N', '-m'], ['0'], ['1', '0'], ['--nosuch']]);
});
