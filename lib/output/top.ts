// The screen of BCC's top-style tools (biotop, filetop, slabratetop...): each refresh clears the
// terminal (BCC runs `clear`; -C prints a blank line instead), prints "HH:MM:SS loadavg: <the
// contents of /proc/loadavg>" (whose own newline leaves a blank line), the column header, and the
// rows ranked by one value, largest first, at most `maxRows` of them.
import fs from 'node:fs';
import { strftimeHMS } from './time.js';
import type { OutputWriter } from './writer.js';

/** What `clear` prints on xterm-like terminals: home, erase the screen, erase the scroll-back. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J\x1b[3J';

/** /proc/loadavg as its one line ("0.08 0.03 0.01 1/123 4567"), without the newline. */
export function loadavgText(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {
    return '';
  }
}

/** The 1, 5 and 15 minute load averages, for --json records. */
export function loadavgValues(text = loadavgText()): number[] {
  return text.split(/\s+/).slice(0, 3).map(Number);
}

/** Rows ranked by `by`, largest first (a stable sort: ties keep their order), at most `max`. */
export function topRows<T>(rows: T[], by: (r: T) => number | bigint, max: number): T[] {
  const key = (r: T) => Number(by(r));
  return [...rows].sort((a, b) => key(b) - key(a)).slice(0, max);
}

export interface TopScreenOptions {
  /** Clear the terminal before each refresh (BCC's default; -C turns it off). */
  clear: boolean;
}

/** Writes one refresh: the clear (or a blank line), the loadavg line, the header and the rows. */
export function writeTopScreen(out: OutputWriter, opts: TopScreenOptions, header: string, rows: string[], loadavg = loadavgText()): void {
  if (opts.clear) out.write(CLEAR_SCREEN);
  else out.line('');
  out.line(`${strftimeHMS().padEnd(8)} loadavg: ${loadavg}`);
  out.line('');
  out.line(header);
  for (const r of rows) out.line(r);
}
