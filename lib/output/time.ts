// Time stamps as BCC tools print them.

import { formatFixed } from './format.js';

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** "HH:MM:SS" in local time, like BCC's `strftime("%H:%M:%S")`. */
export function strftimeHMS(d: Date = new Date()): string {
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A small local-time strftime: %Y %m %d %H %M %S %y %b %a %j %p %I %z %s %%. Unknown conversions are
 * copied through. E.g. BCC's JSON histograms use "%Y-%m-%d %H:%M:%S".
 */
export function strftime(fmt: string, d: Date = new Date()): string {
  let out = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%' || i + 1 >= fmt.length) {
      out += c;
      continue;
    }
    const k = fmt[++i]!;
    switch (k) {
      case 'Y': out += String(d.getFullYear()); break;
      case 'y': out += pad2(d.getFullYear() % 100); break;
      case 'm': out += pad2(d.getMonth() + 1); break;
      case 'd': out += pad2(d.getDate()); break;
      case 'H': out += pad2(d.getHours()); break;
      case 'I': out += pad2(((d.getHours() + 11) % 12) + 1); break;
      case 'p': out += d.getHours() < 12 ? 'AM' : 'PM'; break;
      case 'M': out += pad2(d.getMinutes()); break;
      case 'S': out += pad2(d.getSeconds()); break;
      case 'b': out += MONTHS[d.getMonth()]; break;
      case 'a': out += DAYS[d.getDay()]; break;
      case 'j': {
        const start = new Date(d.getFullYear(), 0, 1);
        const day = Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - start.getTime()) / 86400000) + 1;
        out += String(day).padStart(3, '0');
        break;
      }
      case 'z': {
        const off = -d.getTimezoneOffset();
        const a = Math.abs(off);
        out += (off < 0 ? '-' : '+') + pad2(Math.trunc(a / 60)) + pad2(a % 60);
        break;
      }
      case 's': out += String(Math.floor(d.getTime() / 1000)); break;
      case '%': out += '%'; break;
      default: out += '%' + k;
    }
  }
  return out;
}

/**
 * Seconds between two nanosecond stamps (e.g. `bpf_ktime_get_ns()` values), formatted with
 * `decimals` places as Python's "%.Nf" would print `float(now - start) / 1e9` (exact, half-to-even).
 * Pad it yourself: `sprintf('%-8s', timestampSeconds(t0, ts, 3))` equals BCC's `"%-8.3f"`.
 */
export function timestampSeconds(startNs: bigint, nowNs: bigint, decimals: number): string {
  return formatFixed(Number(nowNs - startNs) / 1e9, decimals);
}

/** CLOCK_MONOTONIC in nanoseconds — the clock `bpf_ktime_get_ns()` uses. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}
