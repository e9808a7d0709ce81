// BCC-exact histogram printers.
//
// These reproduce the text that BCC's Python `table.py` prints for `print_log2_hist()` and
// `print_linear_hist()` (the current 10-wide / 40-star format, not the older one shown in
// tools/*_example.txt). Slot convention is BCC's: the BPF side increments slot `bpf_log2l(v)`,
// so 0 and 1 land in slot 1, 2..3 in slot 2, 4..7 in slot 3, ... and slot 0 is never printed.

export type Count = number | bigint;
export type Slots = ArrayLike<Count>;

export interface HistOptions {
  /** Suppress rows until the first non-zero one (BCC's `strip_leading_zero`). */
  stripLeadingZero?: boolean;
  /** Linear histograms: the value of slot i is i x step (libbpf-tools' print_linear_hist base/step; BCC: 1). */
  step?: number;
}

export interface HistSection {
  key: string | number;
  slots: Slots;
}

export interface HistBucket {
  start: number;
  end: number;
  count: number;
}

/** One histogram as docs/json.md describes it (the body of a `histogram` record). */
export interface HistJson {
  /** The label BCC prints above the counts ("usecs", "msecs", "runqlen"). */
  val_type: string;
  scale: 'log2' | 'linear';
  buckets: HistBucket[];
  total: number;
}

/** Width of the star bar in the narrow format (BCC's global `stars_max`). */
export const STARS_MAX = 40;

/** Number of slots BCC allocates for a log2 histogram (`log2_index_max`). */
export const LOG2_SLOTS = 65;

function toCount(v: Count | undefined | null): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  return 0n;
}

function toCounts(slots: Slots): bigint[] {
  const out = new Array<bigint>(slots.length);
  for (let i = 0; i < slots.length; i++) out[i] = toCount(slots[i]);
  return out;
}

interface Extent {
  idxMax: number; // last index with a value > 0, -1 if none
  valMax: bigint; // largest value (0 if none positive)
}

function extent(vals: bigint[]): Extent {
  let idxMax = -1;
  let valMax = 0n;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i]!;
    if (v > 0n) idxMax = i;
    if (v > valMax) valMax = v;
  }
  return { idxMax, valMax };
}

/**
 * BCC's `_stars(val, val_max, width)`: one '*' per step while `i <= width*val/val_max - 1`
 * (true division), capped at `width`; when `val > val_max` the last character becomes '+'.
 * The result is not padded.
 */
export function stars(val: Count, valMax: Count, width: number): string {
  const v = toCount(val);
  const m = toCount(valMax);
  let q: number;
  if (m === 0n) {
    // Python would raise ZeroDivisionError; BCC never calls _stars then (nothing is printed).
    q = v > 0n ? Infinity : -Infinity;
  } else {
    // Below 2^53 both operands are exact doubles, so this is the correctly rounded quotient, as
    // Python's int / int; beyond that (never reached by real counts) it is a close approximation.
    q = Number(BigInt(width) * v) / Number(m);
  }
  let text = '';
  for (let i = 0; ; i++) {
    if (i > q - 1 || i > width - 1) break;
    text += '*';
  }
  if (v > m) text = text.slice(0, -1) + '+';
  return text;
}

function bar(val: bigint, valMax: bigint, width: number): string {
  return '|' + stars(val, valMax, width).padEnd(width, ' ') + '|';
}

function log2Lines(vals: bigint[], valType: string, stripLeadingZero: boolean, out: string[]): void {
  const { idxMax, valMax } = extent(vals);
  const narrow = idxMax <= 32;
  const width = narrow ? STARS_MAX : Math.trunc(STARS_MAX / 2);
  const numWidth = narrow ? 10 : 20;
  if (idxMax > 0) {
    out.push(
      narrow
        ? '     ' + valType.padEnd(19, ' ') + ' : count     distribution\n'
        : '               ' + valType.padEnd(29, ' ') + ' : count     distribution\n',
    );
  }
  let strip = stripLeadingZero;
  for (let i = 1; i <= idxMax; i++) {
    let low = (1n << BigInt(i)) >> 1n;
    const high = (1n << BigInt(i)) - 1n;
    if (low === high) low -= 1n;
    const val = vals[i]!;
    if (strip) {
      if (val === 0n) continue;
      strip = false;
    }
    out.push(
      String(low).padStart(numWidth, ' ') +
        ' -> ' +
        String(high).padEnd(numWidth, ' ') +
        ' : ' +
        String(val).padEnd(8, ' ') +
        ' ' +
        bar(val, valMax, width) +
        '\n',
    );
  }
}

function linearLines(vals: bigint[], valType: string, stripLeadingZero: boolean, out: string[], step = 1): void {
  const { idxMax, valMax } = extent(vals);
  if (idxMax >= 0) out.push('     ' + valType.padEnd(13, ' ') + ' : count     distribution\n');
  let strip = stripLeadingZero;
  for (let i = 0; i <= idxMax; i++) {
    const val = vals[i]!;
    if (strip) {
      if (val === 0n) continue;
      strip = false;
    }
    out.push(
      '        ' + String(i * step).padEnd(10, ' ') + ' : ' + String(val).padEnd(8, ' ') + ' ' + bar(val, valMax, STARS_MAX) + '\n',
    );
  }
}

/**
 * Byte-identical to BCC `table.print_log2_hist(val_type)` for one histogram: narrow format when the
 * highest non-zero slot is <= 32, wide format otherwise; the header only when that slot is > 0.
 * Returns '' when there is nothing to print. Every line ends with '\n'.
 */
export function formatLog2Hist(slots: Slots, valType: string, opts: HistOptions = {}): string {
  const out: string[] = [];
  log2Lines(toCounts(slots), valType, !!opts.stripLeadingZero, out);
  return out.join('');
}

/** Byte-identical to BCC `table.print_linear_hist(val_type)`: rows 0..idx_max, zero rows included. */
export function formatLinearHist(slots: Slots, valType: string, opts: HistOptions = {}): string {
  const out: string[] = [];
  linearLines(toCounts(slots), valType, !!opts.stripLeadingZero, out, opts.step);
  return out.join('');
}

function sections(
  list: HistSection[],
  valType: string,
  sectionHeader: string,
  opts: HistOptions,
  lines: typeof log2Lines,
): string {
  const out: string[] = [];
  for (const s of list) {
    // BCC: print("\n%s = %s" % (section_header, section_print_fn(bucket)))
    out.push('\n' + sectionHeader + ' = ' + String(s.key) + '\n');
    lines(toCounts(s.slots), valType, !!opts.stripLeadingZero, out);
  }
  return out.join('');
}

/** BCC's sectioned log2 output (e.g. `runqlat -P`, `biolatency -D`): per section "\n<hdr> = <key>\n" + histogram. */
export function formatLog2Sections(
  list: HistSection[],
  valType: string,
  sectionHeader: string,
  opts: HistOptions = {},
): string {
  return sections(list, valType, sectionHeader, opts, log2Lines);
}

/** BCC's sectioned linear output: per section "\n<hdr> = <key>\n" + linear histogram. */
export function formatLinearSections(
  list: HistSection[],
  valType: string,
  sectionHeader: string,
  opts: HistOptions = {},
): string {
  return sections(list, valType, sectionHeader, opts, linearLines);
}

/**
 * Histogram as real JSON (BCC's `print_json_hist` prints a Python dict repr instead). Buckets cover
 * slots 1..idx_max with the same ranges as the text rows: slot 1 is [0,1], slot i is [2^(i-1), 2^i - 1].
 * `total` is the sum of the bucket counts. Ranges above 2^53 lose precision (they are plain numbers).
 */
export function log2HistJson(slots: Slots, valType: string): HistJson {
  const vals = toCounts(slots);
  const { idxMax } = extent(vals);
  const buckets: HistBucket[] = [];
  let total = 0n;
  for (let i = 1; i <= idxMax; i++) {
    let low = (1n << BigInt(i)) >> 1n;
    const high = (1n << BigInt(i)) - 1n;
    if (low === high) low -= 1n;
    const val = vals[i]!;
    total += val;
    buckets.push({ start: Number(low), end: Number(high), count: Number(val) });
  }
  return { val_type: valType, scale: 'log2', buckets, total: Number(total) };
}

/**
 * Linear histogram as JSON: buckets for slots 0..idx_max, bucket i covering
 * [base + i*step, base + (i+1)*step - 1].
 */
export function linearHistJson(slots: Slots, valType: string, base = 0, step = 1): HistJson {
  const vals = toCounts(slots);
  const { idxMax } = extent(vals);
  const buckets: HistBucket[] = [];
  let total = 0n;
  for (let i = 0; i <= idxMax; i++) {
    const val = vals[i]!;
    total += val;
    const start = base + i * step;
    buckets.push({ start, end: start + step - 1, count: Number(val) });
  }
  return { val_type: valType, scale: 'linear', buckets, total: Number(total) };
}

/** C `bpf_log2(u32)`: floor(log2(v)) with bpf_log2(0) == 0. */
function log2u32(v: number): number {
  let r = (v > 0xffff ? 1 : 0) << 4;
  v >>>= r;
  let shift = (v > 0xff ? 1 : 0) << 3;
  v >>>= shift;
  r |= shift;
  shift = (v > 0xf ? 1 : 0) << 2;
  v >>>= shift;
  r |= shift;
  shift = (v > 0x3 ? 1 : 0) << 1;
  v >>>= shift;
  r |= shift;
  r |= v >>> 1;
  return r;
}

/**
 * JS mirror of BCC's `bpf_log2l(u64)`: `hi ? bpf_log2(hi) + 33 : bpf_log2(lo) + 1`, so
 * 0 and 1 -> 1, 2..3 -> 2, 4..7 -> 3, 2^32 -> 33, 2^64-1 -> 64. The argument is truncated to an
 * integer and taken modulo 2^64 like a C cast to `unsigned long` (so negative values map high).
 */
export function log2Slot(v: number | bigint): number {
  let u: bigint;
  if (typeof v === 'bigint') u = BigInt.asUintN(64, v);
  else if (Number.isFinite(v)) u = BigInt.asUintN(64, BigInt(Math.trunc(v)));
  else u = 0n;
  const hi = Number(u >> 32n);
  if (hi) return log2u32(hi) + 32 + 1;
  return log2u32(Number(u & 0xffffffffn)) + 1;
}

/** The value range [low, high] that BCC prints for log2 slot `i` (i >= 1). */
export function log2SlotRange(i: number): { low: bigint; high: bigint } {
  let low = (1n << BigInt(i)) >> 1n;
  const high = (1n << BigInt(i)) - 1n;
  if (low === high) low -= 1n;
  return { low, high };
}

export interface HistStats {
  /** Sum of all slots (slot 0 included). */
  count: number;
  /** First slot with a non-zero value, -1 if none. */
  idxMin: number;
  /** Last slot with a non-zero value, -1 if none. */
  idxMax: number;
  /** Largest slot value. */
  valMax: number;
}

/** Summary numbers for a slot array (log2 or linear). */
export function histStats(slots: Slots): HistStats {
  const vals = toCounts(slots);
  let count = 0n;
  let idxMin = -1;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i]!;
    count += v;
    if (v > 0n && idxMin < 0) idxMin = i;
  }
  const { idxMax, valMax } = extent(vals);
  return { count: Number(count), idxMin, idxMax, valMax: Number(valMax) };
}

/** Adds `v` to a user-side log2 histogram (grows the array to 65 slots as needed). */
export function log2Add(slots: number[], v: number | bigint, n = 1): number[] {
  const s = log2Slot(v);
  while (slots.length < LOG2_SLOTS) slots.push(0);
  slots[s] = (slots[s] ?? 0) + n;
  return slots;
}

/**
 * bpftrace's print of an lhist() map (as bpftrace 0.17 prints it): "@name: " and one row per bucket
 * from the first non-empty to the last, "[lo, hi)" left in 16 columns, the count right in 8, then a
 * bar of '@' 52 wide (count / max x 52, truncated); a blank line after. Slot i is [base + i*step,
 * base + (i+1)*step). Nothing but the header when every slot is empty.
 */
export function formatBpftraceLinear(slots: Slots, mapName: string, base = 0, step = 1): string {
  const vals = toCounts(slots);
  const first = vals.findIndex(v => v > 0n);
  const { idxMax, valMax } = extent(vals);
  const out = [`@${mapName}: \n`];
  for (let i = Math.max(first, 0); first >= 0 && i <= idxMax; i++) {
    const lo = base + i * step;
    const width = Math.trunc(Number(vals[i]!) / Number(valMax) * 52);
    out.push(`[${lo}, ${lo + step})`.padEnd(16) + String(vals[i]).padStart(8) + ' |' + '@'.repeat(width).padEnd(52) + '|\n');
  }
  out.push('\n');
  return out.join('');
}

/** bpftrace's label of 2^power: 1, 2, ... 512, 1K, 2K, ... 1M, ... */
function bpftracePowerLabel(power: number): string {
  const suffixes = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
  const group = Math.min(Math.floor(power / 10), suffixes.length - 1);
  return `${2 ** (power - group * 10)}${suffixes[group]}`;
}

/**
 * bpftrace's print of one hist() key (bpftrace 0.17): "@name[key]: " (or "@name: "), then the rows
 * from the first non-empty bucket to the last: "[0]", "[1]", "[2, 4)", ... "[1K, 2K)", the label left
 * in 16 columns, the count right in 8, a 52-wide bar of '@'; a blank line after. Slot 0 counts the
 * value 0, slot k >= 1 the values [2^(k-1), 2^k) (bpf_log2l() for values >= 1, 0 for 0).
 */
export function formatBpftraceLog2(slots: Slots, mapName: string, key?: string): string {
  const vals = toCounts(slots);
  const first = vals.findIndex(v => v > 0n);
  const { idxMax, valMax } = extent(vals);
  const out = [`@${mapName}${key === undefined ? '' : `[${key}]`}: \n`];
  for (let i = Math.max(first, 0); first >= 0 && i <= idxMax; i++) {
    const label = i === 0 ? '[0]' : i === 1 ? '[1]' : `[${bpftracePowerLabel(i - 1)}, ${bpftracePowerLabel(i)})`;
    const width = Math.trunc(Number(vals[i]!) / Number(valMax) * 52);
    out.push(label.padEnd(16) + String(vals[i]).padStart(8) + ' |' + '@'.repeat(width).padEnd(52) + '|\n');
  }
  out.push('\n');
  return out.join('');
}

/** bpftrace's buckets of formatBpftraceLog2 as JSON buckets ([0,0], [1,1], [2,3], [4,7], ...) are
 * not log2 buckets of docs/json.md ([0,1] first): fold slot 0 into slot 1 for a `histogram` record. */
export function bpftraceLog2ToBcc(slots: number[]): number[] {
  if (slots.length === 0) return [];
  const bcc = [0, ...slots.slice(1)];
  bcc[1] = (slots[0] ?? 0) + (slots[1] ?? 0);
  return bcc;
}

/** bpftrace hist() maps (formatBpftraceLog2's slots), one per key, as a sectioned `histogram` record's body (docs/json.md). */
export function bpftraceLog2SectionsJson(sections: { key: string | number; slots: number[] }[], valType: string, sectionBy: string) {
  return {
    val_type: valType, scale: 'log2' as const, section_by: sectionBy,
    sections: sections.map(s => {
      const { buckets, total } = log2HistJson(bpftraceLog2ToBcc(s.slots), valType);
      return { key: s.key, total, buckets };
    }),
  };
}

/**
 * A bpftrace map key of several parts as bpftrace prints it: parts joined by ", ", a kstack part as
 * its frames, each on a line of its own 8 spaces in, after a newline ("@x[\n        f1\n, comm]").
 */
export function bpftraceKey(parts: (string | string[])[]): string {
  return parts.map(p => (typeof p === 'string' ? p : '\n' + p.map(f => `        ${f}\n`).join(''))).join(', ');
}
