// Histogram views over maps filled with bpf_log2l() slots (BCC's convention) or linear buckets.
// Array maps are one histogram; hash maps keyed by a struct are sectioned: the key's last field is
// the slot, the other fields name the section (disk, pid, comm...), as BCC's secondary keys.
import {
  formatLinearSections, formatLinearHist, formatLog2Hist, formatLog2Sections, log2HistJson, linearHistJson,
} from '../output/index.js';
import { strftimeHMS } from '../output/index.js';
import type { HistJson, HistSectionsJson, OutputWriter, RecordEmitter } from '../output/index.js';
import type { BpfMap } from './index.js';

export interface HistogramData {
  /** Unsectioned histogram: counts by slot. */
  slots: number[];
  /** Sectioned histograms, in first-seen order, keyed by the section's display value. */
  sections: { key: string | number; raw: unknown; slots: number[] }[];
}

export interface PrintOptions {
  /** Section header word ("disk", "pid"); defaults to the section field's name. */
  sectionHeader?: string;
  /** Display for a section key (e.g. dev_t -> disk name). */
  sectionFormat?: (raw: any) => string | number;
  /** Orders sections; default ascending by display key. */
  sectionSort?: (a: string | number, b: string | number) => number;
  stripLeadingZero?: boolean;
  linear?: boolean;
  /** json() of an unsectioned histogram: as the one section of a sectioned record (argdist -H: keyed by its probe). */
  asSection?: { by: string; key: string | number };
}

const toNum = (v: unknown) => (typeof v === 'bigint' ? Number(v) : (v as number) ?? 0);

export class Histogram {
  constructor(readonly map: BpfMap, readonly slotField = 'slot') {}

  /** Reads the map; with `clear` the map is emptied in the same pass (interval tools). */
  read(clear = false): HistogramData {
    const entries = clear ? this.map.drain() : this.map.entries();
    const slots: number[] = [];
    const bySection = new Map<string, { key: string | number; raw: unknown; slots: number[] }>();
    for (const [k, v] of entries) {
      const count = toNum(Array.isArray(v) ? v.reduce((a: number, b: unknown) => a + toNum(b), 0) : v);
      if (typeof k === 'number' || typeof k === 'bigint') {
        slots[Number(k)] = (slots[Number(k)] ?? 0) + count;
        continue;
      }
      const obj = k as Record<string, unknown>;
      const names = Object.keys(obj);
      const slotName = names.includes(this.slotField) ? this.slotField : names[names.length - 1];
      const rest = names.filter(n => n !== slotName && !n.startsWith('__pad'));
      const raw = rest.length === 1 ? obj[rest[0]] : Object.fromEntries(rest.map(n => [n, obj[n]]));
      const id = typeof raw === 'object' ? JSON.stringify(raw, (_, x) => (typeof x === 'bigint' ? x.toString() : x)) : String(raw);
      let sec = bySection.get(id);
      if (!sec) {
        const key = typeof raw === 'bigint' ? Number(raw) : typeof raw === 'object' ? id : (raw as string | number);
        sec = { key, raw, slots: [] };
        bySection.set(id, sec);
      }
      const s = toNum(obj[slotName]);
      sec.slots[s] = (sec.slots[s] ?? 0) + count;
    }
    const fill = (a: number[]) => Array.from(a, x => x ?? 0);
    return { slots: fill(slots), sections: [...bySection.values()].map(s => ({ ...s, slots: fill(s.slots) })) };
  }

  /** BCC's print_log2_hist / print_linear_hist text, sectioned when the key is a struct. */
  format(valType: string, opts: PrintOptions = {}, data = this.read()): string {
    if (data.sections.length === 0) {
      return opts.linear ? formatLinearHist(data.slots, valType, opts) : formatLog2Hist(data.slots, valType, opts);
    }
    const header = opts.sectionHeader ?? 'key';
    const sections = this.namedSections(opts, data);
    return opts.linear
      ? formatLinearSections(sections, valType, header, opts)
      : formatLog2Sections(sections, valType, header, opts);
  }

  /**
   * The same data as the body of a `histogram` record (docs/json.md): buckets, or buckets per section
   * (sorted as format() prints them).
   */
  json(valType: string, opts: PrintOptions = {}, data = this.read()): HistJson | HistSectionsJson {
    const one = (slots: number[]) => (opts.linear ? linearHistJson(slots, valType) : log2HistJson(slots, valType));
    if (!this.map.structKey && opts.asSection) {
      const { val_type, scale, total, buckets } = one(data.slots);
      return { val_type, scale, section_by: opts.asSection.by, sections: [{ key: opts.asSection.key, total, buckets }] };
    }
    if (!this.map.structKey) return one(data.slots);
    const sections = this.namedSections(opts, data).map(s => {
      const { buckets, total } = one(s.slots);
      return { key: s.key, total, buckets };
    });
    return { val_type: valType, scale: opts.linear ? 'linear' : 'log2', section_by: opts.sectionHeader ?? 'key', sections };
  }

  /**
   * One interval of an interval tool, read and cleared: with --json one histogram record, else a blank
   * line, the time with -T (`timestamp`), and the histograms. `jsonOpts`: where JSON's sections differ
   * (bitesize's "Process Name" is JSON's "comm").
   */
  printInterval(to: { out: OutputWriter; emit: RecordEmitter; json: boolean }, valType: string, opts: PrintOptions = {},
    more: { timestamp?: boolean; jsonOpts?: PrintOptions } = {}): void {
    const data = this.read(true);
    if (to.json) {
      to.emit.histogram(this.json(valType, more.jsonOpts ?? opts, data));
      return;
    }
    to.out.line('');
    if (more.timestamp) to.out.line(strftimeHMS());
    to.out.write(this.format(valType, opts, data));
  }

  /** Sections with their display keys, in display order. */
  private namedSections(opts: PrintOptions, data: HistogramData): { key: string | number; slots: number[] }[] {
    const sections = data.sections.map(s => ({ key: opts.sectionFormat ? opts.sectionFormat(s.raw) : s.key, slots: s.slots }));
    const cmp = opts.sectionSort ?? ((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
    return sections.sort((a, b) => cmp(a.key, b.key));
  }

  clear(): void {
    this.map.clear();
  }
}
