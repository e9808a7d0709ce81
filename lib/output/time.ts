// Time stamps as BCC tools print them.

import fs from 'node:fs';
import path from 'node:path';
import { formatFixed, sprintf } from './format.js';

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** "HH:MM:SS" in local time, like BCC's `strftime("%H:%M:%S")`. */
export function strftimeHMS(d: Date = new Date()): string {
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
}

/**
 * BCC's leading time columns: -T the wall clock (HH:MM:SS), -t seconds since the first event printed (from
 * the event's own kernel time in µs); space-padded, or comma-separated for -s (tcplife, tcpstates).
 */
export function timeColumns(o: { time: boolean; timestamp: boolean; csv: boolean }): { header: string; row(tsUs: bigint): string } {
  let firstUs: bigint | undefined;
  const sep = o.csv ? ',' : ' ';
  return {
    header: (o.time ? (o.csv ? 'TIME,' : sprintf('%-8s ', 'TIME')) : '') + (o.timestamp ? (o.csv ? 'TIME(s),' : sprintf('%-9s ', 'TIME(s)')) : ''),
    row(tsUs) {
      firstUs ??= tsUs;
      return (o.time ? strftimeHMS() + sep : '') + (o.timestamp ? sprintf(o.csv ? '%.6f,' : '%-9.6f ', Number(tsUs - firstUs) / 1e6) : '');
    },
  };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A POSIX TZ string's standard and daylight names and UTC offsets in seconds: "EST5EDT,M3.2.0,M11.1.0". */
function parsePosixTz(tz: string): { std: string; stdOffset: number; dst?: string; dstOffset?: number } | undefined {
  const name = String.raw`(<[^>]+>|[A-Za-z]{3,})`;
  const offset = String.raw`([+-]?\d{1,2}(?::\d{1,2}){0,2})`;
  const m = new RegExp(`^${name}${offset}(?:${name}${offset}?)?(?:,|$)`).exec(tz);
  if (!m) return undefined;
  const unquote = (n: string) => n.replace(/^<(.*)>$/, '$1');
  // POSIX offsets are west of UTC: "IST-5:30" is UTC+05:30
  const seconds = (o: string) => {
    const sign = o.startsWith('-') ? 1 : -1;
    const [h = 0, mi = 0, se = 0] = o.replace(/^[+-]/, '').split(':').map(Number);
    return sign * (h * 3600 + mi * 60 + se);
  };
  const stdOffset = seconds(m[2]!);
  if (!m[3]) return { std: unquote(m[1]!), stdOffset };
  return { std: unquote(m[1]!), stdOffset, dst: unquote(m[3]), dstOffset: m[4] ? seconds(m[4]) : stdOffset + 3600 };
}

/** The abbreviation in effect at `when` (seconds) from a TZif file (tzfile(5)), or undefined. */
function tzifAbbreviation(data: Buffer, when: number, utcOffset: number): string | undefined {
  if (data.length < 44 || data.toString('latin1', 0, 4) !== 'TZif') return undefined;
  const counts = (at: number) => [0, 1, 2, 3, 4, 5].map(i => data.readUInt32BE(at + 20 + 4 * i)) as [number, number, number, number, number, number];
  let at = 0;
  let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0);
  let timeSize = 4;
  if (data[4]! >= 0x32) {
    // version 2+: skip the 32-bit block, use the 64-bit one and its POSIX TZ footer
    at = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(at);
    timeSize = 8;
  }
  const times = at + 44;
  const indices = times + timecnt * timeSize;
  const types = indices + timecnt;
  const chars = types + typecnt * 6;
  const abbreviation = (type: number) => {
    const start = chars + data[types + type * 6 + 5]!;
    const end = data.indexOf(0, start);
    return data.toString('latin1', start, end < 0 ? chars + charcnt : end);
  };
  const transition = (i: number) => (timeSize === 8 ? Number(data.readBigInt64BE(times + 8 * i)) : data.readInt32BE(times + 4 * i));
  let last = -1;
  while (last + 1 < timecnt && transition(last + 1) <= when) last++;
  if (timeSize === 8 && last === timecnt - 1) {
    const footerStart = chars + charcnt + leap * 12 + isstd + isut + 1;
    const footer = parsePosixTz(data.toString('latin1', footerStart, data.indexOf(0x0a, footerStart)));
    if (footer) return footer.dst !== undefined && utcOffset === footer.dstOffset ? footer.dst : footer.std;
  }
  if (typecnt === 0) return undefined;
  return abbreviation(last >= 0 ? data[indices + last]! : 0);
}

/** The zone's offset from UTC at `d`, in seconds east (the process's own zone when none is named). */
function utcOffsetSeconds(d: Date, zone: string | undefined): number {
  if (zone) {
    try {
      const name = new Intl.DateTimeFormat('en', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(d).find(p => p.type === 'timeZoneName')?.value;
      const m = /^GMT(?:([+-])(\d\d):(\d\d))?$/.exec(name ?? '');
      if (m) return m[1] ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
    } catch { /* not a zone Intl knows (a POSIX TZ string): the process's offset is the one */ }
  }
  return -d.getTimezoneOffset() * 60;
}

/**
 * The local time zone's abbreviation, as strftime's %Z prints it ("IST", "EST"/"EDT", "UTC", "+04"):
 * from $TZ or /etc/localtime (the TZif data glibc reads). Intl's short names are not these: it says
 * "GMT+5:30" for Asia/Kolkata.
 */
export function timeZoneAbbreviation(d: Date = new Date(), tz: string | undefined = process.env.TZ): string {
  const spec = tz?.replace(/^:/, '');
  const utcOffset = utcOffsetSeconds(d, spec);
  if (spec === '') return 'UTC'; // glibc: an empty TZ is UTC
  const file = spec === undefined ? '/etc/localtime' : path.isAbsolute(spec) ? spec : path.join(process.env.TZDIR ?? '/usr/share/zoneinfo', spec);
  try {
    const abbr = tzifAbbreviation(fs.readFileSync(file), Math.floor(d.getTime() / 1000), utcOffset);
    if (abbr) return abbr;
  } catch { /* no such zone file: TZ may be a POSIX string itself */ }
  const posix = spec === undefined ? undefined : parsePosixTz(spec);
  if (posix) return posix.dst !== undefined && utcOffset === posix.dstOffset ? posix.dst : posix.std;
  // glibc takes an unknown TZ as a zone name at UTC ("Foo/Bar" -> "Foo"), and no TZ data at all as UTC
  return /^[A-Za-z]{3,}/.exec(spec ?? '')?.[0] ?? 'UTC';
}

/**
 * A small local-time strftime: %Y %m %d %H %M %S %y %b %a %j %p %I %z %Z %s %%. Unknown conversions are
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
      case 'Z': out += timeZoneAbbreviation(d); break;
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
