// The exporter's metrics: each tool's --json records (docs/json.md) accumulated into Prometheus series,
// and the text exposition format (version 0.0.4) they are scraped in. Tools report per interval and
// clear their maps, so every series here is the running sum of those intervals: monotonic across scrapes.
import type { MetricConfig } from './config.js';
import { ownFields } from '../output/index.js';

type Labels = Record<string, string>;

/** One log2 or linear histogram series: per-bucket counts keyed by the bucket's inclusive upper bound. */
interface HistogramSeries { labels: Labels; buckets: Map<number, number>; count: number; sum: number }
interface ValueSeries { labels: Labels; value: number }

/** A bucket of a tool's histogram record: both bounds inclusive, integer values (docs/json.md). */
export interface RecordBucket { start: number; end: number; count: number }

/** What a record could not give a metric: a label the tool does not produce, a value field it lacks. */
export class RecordMismatch extends Error {}

/**
 * Why a histogram metric with this label (or none) cannot come from histograms sectioned by `sectionBy`
 * (or not sectioned); undefined when it can. The same words before the start (a tool's declared
 * records, config.ts) and at a record.
 */
export function histogramLabelProblem(tool: string, label: string | undefined, sectionBy: string | undefined): string | undefined {
  if (label && !sectionBy) return `label '${label}' is not produced by ${tool}: its histograms have no sections (options such as -D make them)`;
  if (label && sectionBy !== label) return `label '${label}' is not produced by ${tool}: its histograms are sectioned by '${sectionBy}'`;
  if (!label && sectionBy) return `${tool}'s histograms are sectioned by '${sectionBy}': name it in labels: [${sectionBy}]`;
  return undefined;
}

/** Why a row metric's label or value is not among a record's fields; undefined when all are. */
export function rowFieldProblem(tool: string, labels: string[], value: string | undefined, fields: string[]): string | undefined {
  const label = labels.find(l => !fields.includes(l));
  if (label !== undefined) return `label '${label}' is not produced by ${tool}: its records have ${fields.join(', ')}`;
  if (value !== undefined && !fields.includes(value)) return `value '${value}' is not a field of ${tool}'s records (they have ${fields.join(', ')})`;
  return undefined;
}

const seriesKey = (labels: Labels) => JSON.stringify(Object.entries(labels));

export class Metric {
  private readonly histograms = new Map<string, HistogramSeries>();
  private readonly values = new Map<string, ValueSeries>();
  /** Label sets refused because the metric already had max_series of them. */
  dropped = 0;

  constructor(readonly config: MetricConfig, readonly tool: string) {}

  private allowed(key: string, have: Map<string, unknown>): boolean {
    if (have.has(key) || have.size < this.config.maxSeries) return true;
    this.dropped++;
    return false;
  }

  /** Adds a histogram record's buckets (one record, unsectioned or per section) to the series. */
  addHistogram(record: any): void {
    const parts: { key?: string | number; buckets: RecordBucket[]; sum?: number }[] = record.sections
      ? record.sections.map((s: any) => ({ key: s.key, buckets: s.buckets }))
      : [{ buckets: record.buckets, sum: record.summary?.sum }];
    const [label] = this.config.labels;
    const problem = histogramLabelProblem(this.tool, label, record.sections ? record.section_by : undefined);
    if (problem) throw new RecordMismatch(problem);
    for (const part of parts) {
      const labels: Labels = label ? { [label]: String(part.key) } : {};
      const key = seriesKey(labels);
      if (!this.allowed(key, this.histograms)) continue;
      let s = this.histograms.get(key);
      if (!s) this.histograms.set(key, (s = { labels, buckets: new Map(), count: 0, sum: 0 }));
      let estimate = 0;
      for (const b of part.buckets) {
        if (!b.count) continue;
        s.buckets.set(b.end, (s.buckets.get(b.end) ?? 0) + b.count);
        s.count += b.count;
        // the BPF side keeps counts per bucket, not values: the midpoint stands for each one
        estimate += ((b.start + b.end) / 2) * b.count;
      }
      s.sum += part.sum ?? estimate;
    }
  }

  /** counts/top rows (a counter sums `value`, a gauge keeps the latest), or an event (a counter counts it). */
  addRows(rows: any[], kind: 'counter' | 'gauge'): void {
    for (const row of rows) {
      const problem = rowFieldProblem(this.tool, this.config.labels, this.config.value, ownFields(row));
      if (problem) throw new RecordMismatch(problem);
      const labels: Labels = {};
      for (const l of this.config.labels) labels[l] = String(row[l]);
      let v = 1;
      if (this.config.value) {
        if (typeof row[this.config.value] !== 'number') throw new RecordMismatch(`value '${this.config.value}' is not a number in ${this.tool}'s records`);
        v = row[this.config.value];
      }
      const key = seriesKey(labels);
      if (!this.allowed(key, this.values)) continue;
      const s = this.values.get(key);
      if (!s) this.values.set(key, { labels, value: v });
      else s.value = kind === 'counter' ? s.value + v : v;
    }
  }

  /** This metric in the exposition format: HELP, TYPE and its samples. */
  render(out: string[]): void {
    const { name, help, type } = this.config;
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    if (type === 'histogram') {
      for (const s of this.histograms.values()) {
        let cumulative = 0;
        for (const le of [...s.buckets.keys()].sort((a, b) => a - b)) {
          cumulative += s.buckets.get(le)!;
          out.push(`${name}_bucket${labelText(s.labels, ['le', String(le)])} ${cumulative}`);
        }
        out.push(`${name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
        out.push(`${name}_sum${labelText(s.labels)} ${s.sum}`, `${name}_count${labelText(s.labels)} ${s.count}`);
      }
    } else {
      for (const s of this.values.values()) out.push(`${name}${labelText(s.labels)} ${s.value}`);
    }
  }

  get seriesCount(): number {
    return this.histograms.size + this.values.size;
  }
}

/** Feeds one --json record of a tool to the metrics configured for it. */
export function addRecord(metrics: Metric[], record: any): void {
  for (const m of metrics) {
    const type = m.config.type;
    if (record.kind === 'histogram') {
      if (type !== 'histogram') throw new RecordMismatch(`${m.tool} prints histograms: metric ${m.config.name} must be type histogram`);
      m.addHistogram(record);
    } else if (record.kind === 'counts' || record.kind === 'top') {
      if (type === 'histogram') throw new RecordMismatch(`${m.tool} prints ${record.kind} records, not histograms: metric ${m.config.name} must be a counter or gauge`);
      m.addRows(record.rows, type);
    } else if (record.kind === 'event') {
      if (type !== 'counter') throw new RecordMismatch(`${m.tool} prints events: metric ${m.config.name} must be a counter (of events)`);
      m.addRows([record], 'counter');
    } else {
      throw new RecordMismatch(`${m.tool} prints ${record.kind} records, which have no metrics`);
    }
  }
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  return pairs.length ? `{${pairs.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}` : '';
}
