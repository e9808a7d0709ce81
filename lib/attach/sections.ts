// What a program's SEC() name asks for, and which programs are alternatives of one another.
// A tool declares a fallback chain by writing one program per probe kind for the same target, e.g.
// SEC("tp_btf/sched_switch") and SEC("raw_tp/sched_switch"), or SEC("fentry/vfs_read") and
// SEC("kprobe/vfs_read"): at load time the best kind this kernel supports is kept, the rest are not loaded.

export type ProbeKind =
  | 'tracepoint' | 'raw_tp' | 'tp_btf'
  | 'kprobe' | 'kretprobe' | 'fentry' | 'fexit' | 'kprobe.multi' | 'kretprobe.multi' | 'ksyscall' | 'kretsyscall'
  | 'uprobe' | 'uretprobe' | 'usdt' | 'perf_event' | 'other';

export interface ProbeSpec {
  kind: ProbeKind;
  /**
   * tracepoint: "cat/ev"; raw_tp/tp_btf: "ev"; kprobe/fentry: function name, or alternatives separated
   * by "|" (see targetFunctions); '' when attached by hand.
   */
  target: string;
  /** kprobe offset (kprobe/fn+0x10). */
  offset?: number;
}

const prefixes: [RegExp, ProbeKind][] = [
  [/^(tracepoint|tp)(\/|$)/, 'tracepoint'],
  [/^(raw_tracepoint|raw_tp)(\.w)?\//, 'raw_tp'],
  [/^tp_btf\//, 'tp_btf'],
  [/^kprobe\.multi(\/|$)/, 'kprobe.multi'],
  [/^kretprobe\.multi(\/|$)/, 'kretprobe.multi'],
  [/^kprobe(\/|$)/, 'kprobe'],
  [/^kretprobe(\/|$)/, 'kretprobe'],
  [/^ksyscall\//, 'ksyscall'],
  [/^kretsyscall\//, 'kretsyscall'],
  [/^fentry(\.s)?\//, 'fentry'],
  [/^fexit(\.s)?\//, 'fexit'],
  [/^uprobe(\.s)?(\/|$)/, 'uprobe'],
  [/^uretprobe(\.s)?(\/|$)/, 'uretprobe'],
  [/^usdt(\/|$)/, 'usdt'],
  [/^perf_event$/, 'perf_event'],
];

export function parseSection(section: string): ProbeSpec {
  for (const [re, kind] of prefixes) {
    const m = re.exec(section);
    if (!m) continue;
    let target = section.slice(m[0].length);
    let offset: number | undefined;
    if (kind === 'kprobe') {
      const plus = /^(.*)\+(0x[0-9a-f]+|\d+)$/i.exec(target);
      if (plus) {
        target = plus[1];
        offset = Number(plus[2]);
      }
    }
    return { kind, target, offset };
  }
  return { kind: 'other', target: '' };
}

/**
 * The kernel functions a kprobe/kretprobe/fentry/fexit program may attach to, in order of preference:
 * SEC("kprobe/__blk_account_io_start|blk_account_io_start") names a function renamed across kernel
 * versions; the first one the running kernel has is used.
 */
export function targetFunctions(spec: ProbeSpec): string[] {
  return spec.target.split('|').filter(Boolean);
}

/** Alternatives are grouped by what they observe: the event, or a function's entry or return. */
export function fallbackGroup(spec: ProbeSpec): string | undefined {
  if (!spec.target) return undefined;
  switch (spec.kind) {
    case 'tracepoint': return `event:${spec.target.split('/')[1] ?? spec.target}`;
    case 'raw_tp': case 'tp_btf': return `event:${spec.target}`;
    case 'fentry': case 'kprobe': return `entry:${spec.target}${spec.offset ? `+${spec.offset}` : ''}`;
    case 'fexit': case 'kretprobe': return `return:${spec.target}`;
    default: return undefined;
  }
}

/** Preference within a group: BTF-typed and cheapest first. */
export const preference: ProbeKind[] = ['tp_btf', 'raw_tp', 'tracepoint', 'fentry', 'kprobe', 'fexit', 'kretprobe'];
