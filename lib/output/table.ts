// Tables for `bpfkit list` / `bpfkit doctor`.

import { createRequire } from 'node:module';

// cli-table3 (and string-width under it) costs ~20 ms to import: load it only when a table is drawn.
const require = createRequire(import.meta.url);

export interface TableOptions {
  /** Aligned columns separated by two spaces, no borders (for pipes and scripts). */
  plain?: boolean;
}

function cellText(v: string | number | bigint | null | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}

/**
 * Formats rows under a header. Default: cli-table3 with the compact style and no colours.
 * `plain`: header and rows padded to column widths, numbers right-aligned, trailing spaces
 * trimmed. The result has no trailing newline.
 */
export function formatTable(
  head: string[],
  rows: (string | number | bigint | null | undefined)[][],
  opts: TableOptions = {},
): string {
  const ncols = Math.max(head.length, ...rows.map((r) => r.length));
  if (opts.plain) {
    const text = [head.map(cellText), ...rows.map((r) => r.map(cellText))];
    const widths = new Array<number>(ncols).fill(0);
    for (const r of text) r.forEach((c, i) => (widths[i] = Math.max(widths[i]!, c.length)));
    // A column is right-aligned when every body cell in it is a number.
    const numeric = widths.map(
      (_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || typeof r[i] === 'bigint'),
    );
    return text
      .map((r) => {
        const cells: string[] = [];
        for (let i = 0; i < ncols; i++) {
          const c = r[i] ?? '';
          cells.push(numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!));
        }
        return cells.join('  ').replace(/\s+$/, '');
      })
      .join('\n');
  }
  const t = new (require('cli-table3') as typeof import('cli-table3'))({
    head,
    style: { head: [], border: [], compact: true },
  });
  for (const r of rows) {
    const cells = r.map(cellText);
    while (cells.length < ncols) cells.push('');
    t.push(cells);
  }
  return t.toString();
}
