// The one JSON format of every tool's --json output (docs/json.md): one record per line, each with the
// same envelope (time, tool, kind) and the body of its kind. Tools build records only through these
// functions, and validateRecord() is the schema the catalogue tests hold every printed line to.
import type { HistBucket, HistJson } from './hist.js';

/** What a tool prints: one record per event, or one per interval (histogram, counts, top, stacks). */
export const OUTPUT_KINDS = ['event', 'histogram', 'counts', 'top', 'stacks'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

export type Fields = Record<string, unknown>;

/** A histogram per section (per disk, pid, flags...): the body of a sectioned `histogram` record. */
export interface HistSectionsJson {
  val_type: string;
  scale: 'log2' | 'linear';
  /** What the sections are keyed by ("disk", "pid"): BCC's section header. */
  section_by: string;
  sections: { key: string | number; total: number; buckets: HistBucket[] }[];
}

const ENVELOPE = ['time', 'tool', 'kind'];

/** A record's (or a row's) own fields: its keys, the envelope's aside. */
export const ownFields = (record: object): string[] => Object.keys(record).filter(k => !ENVELOPE.includes(k));

function envelope(tool: string, kind: OutputKind, fields: Fields, at = new Date()): Fields {
  // A field may not shadow the envelope: every consumer reads time/tool/kind the same way.
  for (const k of ENVELOPE) if (k in fields) throw new Error(`${tool}: a ${kind} record may not have its own '${k}' field`);
  return { time: at.toISOString(), tool, kind };
}

/** The wall-clock time of a CLOCK_MONOTONIC stamp (bpf_ktime_get_ns()); node's hrtime is that clock. */
function wallTimeOf(monotonicNs: bigint): Date {
  return new Date(Date.now() - Number(process.hrtime.bigint() - monotonicNs) / 1e6);
}

/**
 * One event, its fields flat after the envelope. With `tsNs` (the event's bpf_ktime_get_ns() stamp)
 * the record has `ts_ns` and its `time` is the moment of the event rather than of printing.
 */
export function eventRecord(tool: string, fields: Fields, opts: { tsNs?: bigint } = {}): Fields {
  if (opts.tsNs === undefined) return { ...envelope(tool, 'event', fields), ...fields };
  return { ...envelope(tool, 'event', fields, wallTimeOf(opts.tsNs)), ts_ns: Number(opts.tsNs), ...fields };
}

/** One interval's histogram (HistJson) or histograms per section (HistSectionsJson). */
export function histogramRecord(tool: string, body: HistJson | HistSectionsJson, extra: Fields = {}): Fields {
  return { ...envelope(tool, 'histogram', extra), ...body, ...extra };
}

/** One interval's counters as table rows (one row when the tool counts system-wide, as vfsstat). */
export function countsRecord(tool: string, intervalS: number, rows: Fields[], extra: Fields = {}): Fields {
  return { ...envelope(tool, 'counts', extra), interval_s: intervalS, rows, ...extra };
}

/** One top-style refresh: rows ranked by `sortBy`, largest first, as the screen shows them. */
export function topRecord(tool: string, intervalS: number, sortBy: string, rows: Fields[], extra: Fields = {}): Fields {
  return { ...envelope(tool, 'top', extra), interval_s: intervalS, sort_by: sortBy, rows, ...extra };
}

/**
 * Counted stacks (profile, offcputime, ...): each stack's fields (pid, comm, user_stack, kernel_stack,
 * frames innermost first) and its count in the field `valueField` names ("samples", "total_us"),
 * largest first.
 */
export function stacksRecord(tool: string, intervalS: number, valueField: string, stacks: Fields[], extra: Fields = {}): Fields {
  return { ...envelope(tool, 'stacks', extra), interval_s: intervalS, value_field: valueField, stacks, ...extra };
}

/** The record builders bound to one tool and one output (ToolContext.emit). */
export interface RecordEmitter {
  event(fields: Fields, opts?: { tsNs?: bigint }): void;
  histogram(body: HistJson | HistSectionsJson, extra?: Fields): void;
  counts(intervalS: number, rows: Fields[], extra?: Fields): void;
  top(intervalS: number, sortBy: string, rows: Fields[], extra?: Fields): void;
  stacks(intervalS: number, valueField: string, stacks: Fields[], extra?: Fields): void;
}

export function recordEmitter(tool: string, out: { json(value: unknown): void }): RecordEmitter {
  return {
    event: (fields, opts) => out.json(eventRecord(tool, fields, opts)),
    histogram: (body, extra) => out.json(histogramRecord(tool, body, extra)),
    counts: (intervalS, rows, extra) => out.json(countsRecord(tool, intervalS, rows, extra)),
    top: (intervalS, sortBy, rows, extra) => out.json(topRecord(tool, intervalS, sortBy, rows, extra)),
    stacks: (intervalS, valueField, stacks, extra) => out.json(stacksRecord(tool, intervalS, valueField, stacks, extra)),
  };
}

// ------------------------------------------------------------------ the schema, as a validator

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
/** A tool's name: lower case words joined by _ or - (the book's qdisc-fq_codel). */
const TOOL_NAME = /^[a-z][a-z0-9]*([_-][a-z0-9]+)*$/;
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** "sections[0]" + "buckets" -> "sections[0].buckets"; "" + "total" -> "total". */
const join = (at: string, name: string) => (at ? `${at}.${name}` : name);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/** Every key, at any depth, is snake_case (data never becomes a key: it goes in rows or sections). */
function checkKeys(v: unknown, at: string, problems: string[]): void {
  if (Array.isArray(v)) v.forEach((x, i) => checkKeys(x, `${at}[${i}]`, problems));
  else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (!SNAKE.test(k)) problems.push(`${join(at, k)}: field names are snake_case`);
      checkKeys(x, join(at, k), problems);
    }
  }
}

function checkBuckets(v: unknown, scale: unknown, at: string, problems: string[]): number | undefined {
  if (!Array.isArray(v)) {
    problems.push(`${join(at, 'buckets')}: must be an array`);
    return undefined;
  }
  let sum = 0;
  v.forEach((b, i) => {
    const where = `${join(at, 'buckets')}[${i}]`;
    if (!isObject(b) || !Number.isSafeInteger(b.start) || !Number.isSafeInteger(b.end) || !isCount(b.count)) {
      problems.push(`${where}: must be {start, end, count} integers, count >= 0`);
      return;
    }
    const [start, end] = [b.start as number, b.end as number];
    sum += b.count as number;
    if (start > end) problems.push(`${where}: start ${start} > end ${end}`);
    const prev = v[i - 1] as { end?: number } | undefined;
    if (prev && Number.isSafeInteger(prev.end) && start !== prev.end! + 1) problems.push(`${where}: starts at ${start}, not right after ${prev.end}`);
    // log2 bucket i is BCC's slot i+1: [0,1], [2,3], [4,7], ... (exact while below 2^53)
    if (scale === 'log2' && i < 52) {
      const [lo, hi] = [i === 0 ? 0 : 2 ** i, 2 ** (i + 1) - 1];
      if (start !== lo || end !== hi) problems.push(`${where}: a log2 bucket ${i} is [${lo}, ${hi}], not [${start}, ${end}]`);
    }
  });
  return sum;
}

function checkHistogram(r: Record<string, unknown>, problems: string[]): void {
  if (typeof r.val_type !== 'string' || !r.val_type) problems.push('val_type: must be a non-empty string');
  if (r.scale !== 'log2' && r.scale !== 'linear') problems.push("scale: must be 'log2' or 'linear'");
  const one = (h: Record<string, unknown>, at: string) => {
    const sum = checkBuckets(h.buckets, r.scale, at, problems);
    if (!isCount(h.total)) problems.push(`${join(at, 'total')}: must be a count`);
    else if (sum !== undefined && sum !== h.total) problems.push(`${join(at, 'total')}: ${h.total} is not the sum of the buckets (${sum})`);
  };
  if ('sections' in r) {
    if ('buckets' in r) problems.push('a histogram has buckets or sections, not both');
    if (typeof r.section_by !== 'string' || !r.section_by) problems.push('section_by: must name what the sections are keyed by');
    if (!Array.isArray(r.sections)) return void problems.push('sections: must be an array');
    r.sections.forEach((s, i) => {
      if (!isObject(s)) return void problems.push(`sections[${i}]: must be an object`);
      if (typeof s.key !== 'string' && typeof s.key !== 'number') problems.push(`sections[${i}].key: must be a string or a number`);
      one(s, `sections[${i}]`);
    });
  } else {
    one(r, '');
  }
}

function checkRows(r: Record<string, unknown>, problems: string[]): void {
  if (typeof r.interval_s !== 'number' || !(r.interval_s > 0)) problems.push('interval_s: must be a positive number of seconds');
  if (!Array.isArray(r.rows)) return void problems.push('rows: must be an array');
  r.rows.forEach((row, i) => {
    if (!isObject(row)) return void problems.push(`rows[${i}]: must be an object`);
    for (const [k, v] of Object.entries(row)) {
      if (v !== null && typeof v !== 'number' && typeof v !== 'string') problems.push(`rows[${i}].${k}: must be a number, a string or null`);
    }
  });
  if (r.kind !== 'top') return;
  const by = r.sort_by;
  if (typeof by !== 'string') return void problems.push('sort_by: must name a numeric column');
  const keys = r.rows.map(row => (isObject(row) ? row[by] : undefined));
  keys.forEach((k, i) => {
    if (typeof k !== 'number') problems.push(`rows[${i}].${by}: the sort column must be a number`);
    else if (i > 0 && typeof keys[i - 1] === 'number' && k > (keys[i - 1] as number)) problems.push(`rows[${i}]: not sorted by ${by}, largest first`);
  });
}

/** `stacks`: every stack has a pid, a comm, its count, and frames as arrays of names (or null: missed). */
function checkStacks(r: Record<string, unknown>, problems: string[]): void {
  if (typeof r.interval_s !== 'number' || !(r.interval_s > 0)) problems.push('interval_s: must be a positive number of seconds');
  const by = r.value_field;
  if (typeof by !== 'string' || !SNAKE.test(by)) problems.push('value_field: must name the field each stack counts in');
  if (!Array.isArray(r.stacks)) return void problems.push('stacks: must be an array');
  let prev: number | undefined;
  r.stacks.forEach((s, i) => {
    const at = `stacks[${i}]`;
    if (!isObject(s)) return void problems.push(`${at}: must be an object`);
    if (!isCount(s.pid)) problems.push(`${at}.pid: must be a process or thread ID`);
    if (typeof s.comm !== 'string') problems.push(`${at}.comm: must be a string`);
    for (const [k, v] of Object.entries(s)) {
      if (!k.endsWith('_stack')) continue;
      if (v !== null && !(Array.isArray(v) && v.every(f => typeof f === 'string' && f.length > 0))) {
        problems.push(`${at}.${k}: must be an array of frame names, or null for a stack the kernel could not store`);
      }
    }
    if (!Object.keys(s).some(k => k.endsWith('_stack'))) problems.push(`${at}: has no stack (user_stack, kernel_stack, waker_kernel_stack...)`);
    if (typeof by !== 'string') return;
    const v = s[by];
    if (typeof v !== 'number' || !(v >= 0)) return void problems.push(`${at}.${by}: must be a non-negative number`);
    if (prev !== undefined && v > prev) problems.push(`${at}: not sorted by ${by}, largest first`);
    prev = v;
  });
}

/** The problems with one parsed --json line ([] when it follows docs/json.md). */
export function validateRecord(value: unknown): string[] {
  if (!isObject(value)) return ['a record is a JSON object'];
  const problems: string[] = [];
  if (typeof value.time !== 'string' || !ISO_UTC.test(value.time) || Number.isNaN(Date.parse(value.time))) {
    problems.push('time: must be an ISO 8601 UTC time with milliseconds (2026-01-31T23:59:59.123Z)');
  }
  if (typeof value.tool !== 'string' || !TOOL_NAME.test(value.tool)) problems.push('tool: must be the tool\'s name');
  if (!OUTPUT_KINDS.includes(value.kind as OutputKind)) problems.push(`kind: must be one of ${OUTPUT_KINDS.join(', ')}`);
  checkKeys(value, '', problems);
  switch (value.kind) {
    case 'event':
      if ('ts_ns' in value && !isCount(value.ts_ns) && !(typeof value.ts_ns === 'number' && value.ts_ns > 2 ** 53)) {
        problems.push('ts_ns: must be a non-negative integer (CLOCK_MONOTONIC nanoseconds)');
      }
      break;
    case 'histogram':
      checkHistogram(value, problems);
      break;
    case 'counts': case 'top':
      checkRows(value, problems);
      break;
    case 'stacks':
      checkStacks(value, problems);
      break;
  }
  return problems;
}
