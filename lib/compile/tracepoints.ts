// BCC's TRACEPOINT_PROBE(cat, ev) hands the program `args` with the event's own fields. vmlinux.h has
// no per-event struct for most events (syscalls share trace_event_raw_sys_enter), so, like BCC, we
// generate struct tracepoint__cat__ev from tracefs' format file: offsets there are the kernel's ABI.
import fs from 'node:fs';

export function tracefsDir(): string {
  for (const d of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    if (fs.existsSync(`${d}/events`)) return d;
  }
  return '/sys/kernel/tracing';
}

export class TracepointMissingError extends Error {
  constructor(readonly category: string, readonly event: string, why: string) {
    super(`tracepoint ${category}:${event} ${why}`);
    this.name = 'TracepointMissingError';
  }
}

export interface TracepointField {
  decl: string;
  name: string;
  offset: number;
  size: number;
  signed: boolean;
}

export function readTracepointFormat(category: string, event: string): TracepointField[] {
  const dir = tracefsDir();
  let text: string;
  try {
    text = fs.readFileSync(`${dir}/events/${category}/${event}/format`, 'utf8');
  } catch (e) {
    if (!fs.existsSync(`${dir}/events`)) {
      throw new TracepointMissingError(category, event, `cannot be read: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)`);
    }
    throw new TracepointMissingError(category, event, 'does not exist on this kernel');
  }
  return parseTracepointFormat(text);
}

export function parseTracepointFormat(text: string): TracepointField[] {
  const fields: TracepointField[] = [];
  const re = /field:([^;]+);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/g;
  for (let m; (m = re.exec(text));) {
    const decl = m[1].trim();
    const name = /(\w+)\s*(\[[^\]]*\])?\s*$/.exec(decl)?.[1] ?? '';
    fields.push({ decl, name, offset: +m[2], size: +m[3], signed: m[4] === '1' });
  }
  return fields;
}

const intTypes: Record<number, [string, string]> = { 1: ['u8', 's8'], 2: ['u16', 's16'], 4: ['u32', 's32'], 8: ['u64', 's64'] };

/** One C member for a format field; types come from size and sign so no kernel header is needed. */
function member(f: TracepointField): string {
  const arr = /\[(\d*)\]\s*$/.exec(f.decl);
  if (f.decl.startsWith('__data_loc')) return `u32 data_loc_${f.name}`;
  if (arr) {
    const n = arr[1] ? +arr[1] : 0;
    const isChar = /\bchar\b/.test(f.decl);
    if (n > 0) {
      const elem = f.size / n;
      const t = isChar ? 'char' : (intTypes[elem]?.[f.signed ? 1 : 0] ?? 'u8');
      return `${t} ${f.name}[${isChar ? f.size : n}]`;
    }
    return `u8 ${f.name}[${f.size}]`;
  }
  if (f.decl.includes('*')) return `u64 ${f.name}`; // user or kernel pointer: read with bpf_probe_read_*
  const t = intTypes[f.size];
  return t ? `${t[f.signed ? 1 : 0]} ${f.name}` : `u8 ${f.name}[${f.size}]`;
}

export function tracepointStruct(category: string, event: string, fields: TracepointField[]): string {
  const lines = [`struct tracepoint__${category}__${event} {`];
  let pos = 0;
  let pad = 0;
  for (const f of fields) {
    if (f.name.startsWith('common_')) continue;
    if (f.offset > pos) lines.push(`\tu8 __pad${pad++}[${f.offset - pos}];`);
    lines.push(`\t${member(f)};`);
    pos = f.offset + f.size;
  }
  lines.push('};');
  return lines.join('\n') + '\n';
}

/** The generated preamble for every TRACEPOINT_PROBE(cat, ev) in `text` ('' when none). */
export function tracepointStructs(text: string): string {
  const seen = new Set<string>();
  let out = '';
  for (const m of text.matchAll(/TRACEPOINT_PROBE\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)/g)) {
    const [cat, ev] = [m[1], m[2]];
    if (seen.has(`${cat}:${ev}`) || /#\s*define/.test(text.slice(text.lastIndexOf('\n', m.index) + 1, m.index))) continue;
    seen.add(`${cat}:${ev}`);
    out += tracepointStruct(cat, ev, readTracepointFormat(cat, ev));
  }
  return out ? `#include <vmlinux.h>\n${out}` : '';
}
