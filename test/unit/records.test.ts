// The --json records (lib/output/records.ts): what each builder makes, and that validateRecord accepts
// exactly what docs/json.md describes.
import {
  countsRecord, eventRecord, histogramRecord, linearHistJson, log2HistJson, recordEmitter, toJson, topRecord, validateRecord,
} from '../../lib/output/index.js';

/** A record as it comes back from a --json line. */
const roundTrip = (r: unknown) => JSON.parse(toJson(r));

describe('builders', () => {
  test('event: envelope, then the fields; ts_ns gives the time of the event', () => {
    const before = Date.now();
    const r = roundTrip(eventRecord('opensnoop', { pid: 42, path: '/etc/passwd', fd: 3n }));
    const after = Date.now();
    expect(Object.keys(r)).toEqual(['time', 'tool', 'kind', 'pid', 'path', 'fd']);
    expect(r).toMatchObject({ tool: 'opensnoop', kind: 'event', pid: 42, fd: 3 });
    expect(Date.parse(r.time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(r.time)).toBeLessThanOrEqual(after);
    // an event stamped 2 s ago on the monotonic clock is dated 2 s ago (bracketed by wall-clock reads
    // taken beside the stamp, so however long the machine takes between the lines; 1 ms of rounding)
    const w0 = Date.now();
    const twoSecondsAgo = process.hrtime.bigint() - 2_000_000_000n;
    const w1 = Date.now();
    const e = roundTrip(eventRecord('biosnoop', { pid: 1 }, { tsNs: twoSecondsAgo }));
    expect(e.ts_ns).toBe(Number(twoSecondsAgo));
    expect(Date.parse(e.time)).toBeGreaterThanOrEqual(w0 - 2000 - 1);
    expect(Date.parse(e.time)).toBeLessThanOrEqual(w1 - 2000 + 1);
    expect(validateRecord(e)).toEqual([]);
  });
  test('a field may not shadow the envelope', () => {
    expect(() => eventRecord('x', { time: 0 })).toThrow("x: a event record may not have its own 'time' field");
    expect(() => countsRecord('x', 1, [], { kind: 'y' })).toThrow(/own 'kind' field/);
  });
  test('histogram, plain and sectioned', () => {
    const plain = roundTrip(histogramRecord('runqlat', log2HistJson([0, 3, 0, 5], 'usecs')));
    expect(plain).toMatchObject({ kind: 'histogram', val_type: 'usecs', scale: 'log2', total: 8 });
    expect(validateRecord(plain)).toEqual([]);
    const { buckets, total } = linearHistJson([4, 1], 'runqlen');
    const sectioned = roundTrip(histogramRecord('runqlen', { val_type: 'runqlen', scale: 'linear', section_by: 'cpu', sections: [{ key: 0, total, buckets }] }));
    expect(validateRecord(sectioned)).toEqual([]);
  });
  test('counts and top', () => {
    expect(validateRecord(roundTrip(countsRecord('vfsstat', 1.002, [{ read: 10, write: 2 }])))).toEqual([]);
    expect(validateRecord(roundTrip(topRecord('biotop', 1, 'kbytes', [{ comm: 'dd', kbytes: 800 }, { comm: 'sh', kbytes: 4 }])))).toEqual([]);
  });
  test('recordEmitter writes one record per call, named for its tool', () => {
    const lines: unknown[] = [];
    const emit = recordEmitter('vfsstat', { json: v => lines.push(roundTrip(v)) });
    emit.counts(2, [{ read: 1 }]);
    emit.event({ pid: 7 });
    expect(lines).toMatchObject([{ tool: 'vfsstat', kind: 'counts', interval_s: 2 }, { tool: 'vfsstat', kind: 'event', pid: 7 }]);
  });
});

describe('validateRecord rejects what docs/json.md rules out', () => {
  const ok = () => roundTrip(histogramRecord('runqlat', log2HistJson([0, 3, 0, 5], 'usecs')));
  const problems = (change: (r: any) => void) => {
    const r = ok();
    change(r);
    return validateRecord(r);
  };
  test('the envelope', () => {
    expect(validateRecord([])).toEqual(['a record is a JSON object']);
    expect(problems(r => (r.time = 0))).toEqual([expect.stringMatching(/^time: must be an ISO 8601 UTC time/)]);
    expect(problems(r => (r.time = '2026-12-01 21:00:00'))).toHaveLength(1);
    expect(problems(r => delete r.tool)).toEqual(["tool: must be the tool's name"]);
    expect(problems(r => (r.kind = 'stack'))).toEqual(['kind: must be one of event, histogram, counts, top, stacks']);
  });
  test('names: snake_case at every depth', () => {
    expect(problems(r => (r.valType = 'x'))).toEqual(['valType: field names are snake_case']);
    expect(problems(r => (r.buckets[0]['interval-start'] = 0))).toEqual(['buckets[0].interval-start: field names are snake_case']);
  });
  test('histograms: buckets contiguous, log2 ranges, totals, buckets or sections', () => {
    expect(problems(r => (r.buckets[1].count = -1))).toEqual(['buckets[1]: must be {start, end, count} integers, count >= 0']);
    expect(problems(r => (r.total = 9))).toEqual(['total: 9 is not the sum of the buckets (8)']);
    expect(problems(r => r.buckets.splice(1, 1))).toEqual([
      'buckets[1]: starts at 4, not right after 1', 'buckets[1]: a log2 bucket 1 is [2, 3], not [4, 7]']);
    expect(problems(r => (r.scale = 'log10'))).toContain("scale: must be 'log2' or 'linear'");
    expect(problems(r => (r.sections = []))).toEqual(['a histogram has buckets or sections, not both', 'section_by: must name what the sections are keyed by']);
  });
  test('counts and top: interval, plain values, top sorted', () => {
    expect(validateRecord(roundTrip(countsRecord('vfsstat', 0, [{ read: 1 }])))).toEqual(['interval_s: must be a positive number of seconds']);
    expect(validateRecord(roundTrip(countsRecord('vfsstat', 1, [{ read: [1] }])))).toEqual(['rows[0].read: must be a number, a string or null']);
    expect(validateRecord(roundTrip(topRecord('biotop', 1, 'kbytes', [{ kbytes: 1 }, { kbytes: 5 }])))).toEqual(['rows[1]: not sorted by kbytes, largest first']);
  });
});
