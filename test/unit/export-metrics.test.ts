// bpfkit export's metrics (lib/export/metrics.ts): records of docs/json.md's kinds accumulated into
// Prometheus series, and the exposition text they render to.
import { addRecord, Metric, RecordMismatch } from '../../lib/export/metrics.js';
import type { MetricConfig } from '../../lib/export/config.js';

const metric = (c: Partial<MetricConfig>, tool = 't') =>
  new Metric({ name: 'm', type: 'histogram', help: 'help', labels: [], maxSeries: 1000, place: 'f.yaml:1', ...c }, tool);
const render = (m: Metric) => {
  const out: string[] = [];
  m.render(out);
  return out;
};
const hist = (buckets: [number, number, number][], extra = {}) =>
  ({ kind: 'histogram', scale: 'log2', val_type: 'usecs', buckets: buckets.map(([start, end, count]) => ({ start, end, count })), ...extra });

test('log2 histograms: cumulative buckets by upper bound, +Inf, _count; summed over intervals; _sum from midpoints', () => {
  const m = metric({ name: 'lat_usecs' });
  addRecord([m], hist([[0, 1, 2], [2, 3, 0], [4, 7, 3]]));
  addRecord([m], hist([[0, 1, 1], [2, 3, 4]]));
  expect(render(m)).toEqual([
    '# HELP lat_usecs help', '# TYPE lat_usecs histogram',
    'lat_usecs_bucket{le="1"} 3', 'lat_usecs_bucket{le="3"} 7', 'lat_usecs_bucket{le="7"} 10', 'lat_usecs_bucket{le="+Inf"} 10',
    `lat_usecs_sum ${0.5 * 3 + 2.5 * 4 + 5.5 * 3}`, 'lat_usecs_count 10',
  ]);
});

test('an exact sum where the record has one (biolatency -e summary)', () => {
  const m = metric({});
  addRecord([m], hist([[4, 7, 2]], { summary: { average: 5, sum: 10, count: 2 } }));
  expect(render(m)).toContain('m_sum 10');
});

test('sectioned histograms: one series per section, labelled; the label must be what the sections are keyed by', () => {
  const m = metric({ labels: ['disk'] });
  addRecord([m], { kind: 'histogram', scale: 'log2', section_by: 'disk', sections: [{ key: 'vda', total: 1, buckets: [{ start: 2, end: 3, count: 1 }] }, { key: 'loop0', total: 2, buckets: [{ start: 0, end: 1, count: 2 }] }] });
  expect(render(m)).toEqual(expect.arrayContaining(['m_bucket{disk="vda",le="3"} 1', 'm_count{disk="loop0"} 2']));
  expect(() => addRecord([metric({ labels: ['pid'] })], { kind: 'histogram', section_by: 'disk', sections: [] })).toThrow(RecordMismatch);
  expect(() => addRecord([metric({})], { kind: 'histogram', section_by: 'disk', sections: [] })).toThrow(/name it in labels: \[disk\]/);
  expect(() => addRecord([metric({ labels: ['disk'] })], hist([]))).toThrow(/have no sections/);
});

test('counters sum a row field per label set; gauges keep the latest; events count 1 each; values escaped', () => {
  const c = metric({ name: 'calls_total', type: 'counter', labels: ['syscall'], value: 'count' });
  const g = metric({ name: 'occ', type: 'gauge', labels: ['cpu'], value: 'pct' });
  addRecord([c], { kind: 'counts', rows: [{ syscall: 'read', count: 5 }, { syscall: 'wr"ite\\', count: 1 }] });
  addRecord([c], { kind: 'counts', rows: [{ syscall: 'read', count: 7 }] });
  addRecord([g], { kind: 'counts', rows: [{ cpu: 0, pct: 50 }] });
  addRecord([g], { kind: 'counts', rows: [{ cpu: 0, pct: 20 }] });
  expect(render(c).slice(2)).toEqual(['calls_total{syscall="read"} 12', 'calls_total{syscall="wr\\"ite\\\\"} 1']);
  expect(render(g).slice(2)).toEqual(['occ{cpu="0"} 20']);
  const e = metric({ name: 'execs_total', type: 'counter', labels: ['comm'] });
  for (const comm of ['sh', 'sh', 'ls']) addRecord([e], { kind: 'event', comm, pid: 1 });
  expect(render(e).slice(2)).toEqual(['execs_total{comm="sh"} 2', 'execs_total{comm="ls"} 1']);
  expect(() => addRecord([c], { kind: 'counts', rows: [{ count: 1 }] })).toThrow(/label 'syscall' is not produced by t: its records have count/);
});

test('max_series: label sets beyond the cap are dropped and counted', () => {
  const c = metric({ name: 'x_total', type: 'counter', labels: ['k'], value: 'n', maxSeries: 2 });
  addRecord([c], { kind: 'counts', rows: [1, 2, 3, 4].map(k => ({ k, n: 1 })) });
  addRecord([c], { kind: 'counts', rows: [{ k: 1, n: 1 }] });
  expect(c.seriesCount).toBe(2);
  expect(c.dropped).toBe(2);
  expect(render(c).slice(2)).toEqual(['x_total{k="1"} 2', 'x_total{k="2"} 1']);
});
