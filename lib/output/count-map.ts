// The end of the book's counting tools (bpftrace: `@[key] = count()` printed at exit): one line per
// key, "@[key]: count", smallest count first as bpftrace prints maps; with --json one counts record,
// largest first (ffaults, hfaults).
import type { Fields, RecordEmitter } from './records.js';
import type { OutputWriter } from './writer.js';

export interface CountMapPrint {
  out: OutputWriter;
  json: boolean;
  emit: RecordEmitter;
  /** How long the tool counted. */
  seconds: number;
}

/** Prints `rows` counted in `valueField`, each keyed in the text by `keyText(row)`. */
export function printCountMap(rows: Fields[], valueField: string, keyText: (row: Fields) => string, p: CountMapPrint): void {
  const sorted = [...rows].sort((a, b) => Number(a[valueField]) - Number(b[valueField]));
  if (p.json) {
    p.emit.counts(p.seconds, sorted.reverse());
    return;
  }
  p.out.line('');
  for (const r of sorted) p.out.line(`@[${keyText(r)}]: ${r[valueField]}`);
}
