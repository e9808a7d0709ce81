#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// funclatency: time kernel or user functions and print their latency as a histogram (BCC's
// funclatency). The pattern is a probe specification (lib/probes): `vfs_read`, `'vfs_fstat*'`,
// `c:read`, `/path/bin:func`. Each entry pushes its start on a per-thread stack of calls in flight
// and its return pops it (lib/probes/latency.ts), so nested and recursive calls are each timed.
// Unlike BCC, whose avg/total/count line sums every interval so far, each interval's line is its own.
import { defineTool, intervalSchedule, opt, positiveInt, ToolError, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { representativeProbes, resolveSpecs } from '../../lib/probes/index.js';
import { attachProbes, unsupportedReason } from '../../lib/probes/codegen.js';
import {
  DEFAULT_DEPTH, generateLatencyProgram, timedHistogramOptions, timeUnit, untimeable, type LatencyOptions,
} from '../../lib/probes/latency.js';
import { namesUserFunctions } from '../../lib/probes/spec.js';

/**
 * `dist` is the one histogram; `dist_by` the sectioned one (-F, and user functions without -p, as
 * BCC: a histogram per function and process). `avg` sums nanoseconds and counts calls.
 */
function latencyProgram(o: { sectioned: boolean; user: boolean; depth: number }): LatencyOptions {
  return {
    depth: o.depth,
    prelude: `
const volatile u64 unit_ns = 1;          /* -u: 1000, -m: 1000000 */

struct section_key { u32 probe_id; u32 pid; u32 slot; };
${o.sectioned ? 'BPF_HISTOGRAM(dist_by, struct section_key);' : 'BPF_HISTOGRAM(dist);'}
BPF_ARRAY(avg, u64, 2);                  /* [0] total ns, [1] calls */`,
    onLatency: `
u32 total = 0, calls = 1;
u64 *sum = bpf_map_lookup_elem(&avg, &total), *cnt = bpf_map_lookup_elem(&avg, &calls);
if (sum)
	lock_xadd(sum, delta_ns);
if (cnt)
	lock_xadd(cnt, 1);
u32 slot = bpf_log2l(delta_ns / unit_ns);
${o.sectioned
    ? `struct section_key key = { .probe_id = probe_id, .pid = ${o.user ? 'bpfkit_tgid()' : '0'}, .slot = slot };
map_increment(dist_by, key);`
    : 'map_increment(dist, slot);'}`,
  };
}

/** A user function probe and a kernel function probe: the catalogue's check and the precompiled objects. */
function representativeProgram(): string {
  return generateLatencyProgram(representativeProbes(['c:read']), latencyProgram({ sectioned: false, user: true, depth: DEFAULT_DEPTH })).text;
}

interface Options {
  pid?: number; interval?: number; duration?: number; timestamp: boolean; microseconds: boolean; milliseconds: boolean;
  function: boolean; regexp: boolean; level?: number; printBpf: boolean; verbose: boolean; pattern?: string;
}

/** --json's section_by (the text's section header is BCC's "Function"). */
const SECTION_BY = 'function';

/** A histogram per function: -F, and as BCC user functions without -p (per function and process). */
function perFunction(o: Options): boolean {
  return o.function || (!!o.pattern && namesUserFunctions(o.pattern, { regex: o.regexp }) && !o.pid);
}

defineTool<Options>({
  name: 'funclatency',
  subsystem: 'kernel',
  description: 'Time functions and print latency as a histogram',
  ports: { bcc: 'tools/funclatency.py', 'libbpf-tools': 'libbpf-tools/funclatency.bpf.c' },
  probes: { uprobe: [''], uretprobe: [''] },
  output: 'histogram',
  invocations: [
    { args: ['-d', '1', 'c:read'], ends: 'itself' },
    { args: ['-u', 'c:nanosleep'], ends: 'ctrl-c' },
  ],
  records: o => ({ sectionBy: perFunction(o) ? SECTION_BY : undefined }),
  program: representativeProgram(),
  options: {
    ...timedHistogramOptions(),
    function: opt.flag('F', 'show a separate histogram per function'),
    regexp: opt.flag('r', 'use regular expressions. Default is "*" wildcards only.'),
    level: { alias: 'l', type: 'string', describe: `set the level of nested or recursive functions timed per thread (default ${DEFAULT_DEPTH})`,
      coerce: positiveInt('level') },
    printBpf: { alias: 'D', type: 'boolean', default: false, describe: 'print the BPF program before starting (for debugging purposes)' },
    verbose: opt.flag('v', 'print the BPF program (as -D, BCC\'s spelling)'),
  },
  positional: '[pattern]',
  examples: [
    ['funclatency do_sys_open', 'time the do_sys_open() kernel function'],
    ['funclatency c:read', 'time the read() C library function'],
    ['funclatency -u vfs_read', 'time vfs_read(), in microseconds'],
    ['funclatency -m do_nanosleep', 'time do_nanosleep(), in milliseconds'],
    ['funclatency -i 2 -d 10 c:open', 'output every 2 seconds, for duration 10s'],
    ['funclatency -mTi 5 vfs_read', 'output every 5 seconds, with timestamps'],
    ['funclatency -p 181 vfs_read', 'time process 181 only'],
    ["funclatency 'vfs_fstat*'", 'time both vfs_fstat() and vfs_fstatat()'],
    ["funclatency 'c:*printf'", 'time the *printf family of functions'],
    ["funclatency -F 'vfs_r*'", 'show one histogram per matched function'],
    ['funclatency -u -p 181 /path/to/bin:func', 'time func() of a program, in microseconds'],
  ],
  validate(o) {
    if (o.microseconds && o.milliseconds) return 'use only one of -u and -m';
    if (o.level !== undefined && o.level > 64) return `invalid level: ${o.level} (at most 64 nested calls per thread)`;
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    // checked here, after the privilege check, so that an unprivileged user hears about root first
    if (!opts.pattern) throw new UsageError('the following arguments are required: pattern');
    const probes = resolveSpecs([opts.pattern!], { regex: opts.regexp, pid: opts.pid, allow: ['kprobe', 'uprobe'] },
      m => new UsageError(m), untimeable);
    const user = probes.some(p => p.type === 'uprobe');
    const sectioned = perFunction(opts);
    const gen = generateLatencyProgram(probes, latencyProgram({ sectioned, user, depth: opts.level ?? DEFAULT_DEPTH }));
    if (opts.printBpf || opts.verbose) process.stderr.write(gen.text);
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    const unit = timeUnit(opts);
    const bpf = load({ text: gen.text, rodata: { ...gen.rodata({ pid: opts.pid }), unit_ns: BigInt(unit.divisor) } });
    const { attached } = attachProbes(bpf, gen, { pid: opts.pid });
    banner(`Tracing ${attached.length} functions for "${opts.pattern}"... Hit Ctrl-C to end.`);

    const dist = bpf.histogram(sectioned ? 'dist_by' : 'dist');
    const avg = bpf.map<number, bigint>('avg');
    const section = {
      sectionHeader: 'Function',
      sectionFormat: (k: { probe_id: number; pid: number }) => {
        const p = probes[k.probe_id];
        const name = p?.label ?? `probe ${k.probe_id}`;
        return p?.type === 'uprobe' ? `${name} [${k.pid}]` : name;
      },
    };
    const { interval, count } = intervalSchedule(opts);
    await intervals(interval, count, last => {
      const data = dist.read(true);
      const totalNs = avg.get(0) ?? 0n, calls = avg.get(1) ?? 0n;
      avg.set(0, 0n);
      avg.set(1, 0n);
      // BCC's summary line: the integer part of total and average in the histogram's unit
      const total = totalNs / BigInt(unit.divisor);
      const average = calls > 0n ? Math.trunc(Number(totalNs) / unit.divisor / Number(calls)) : 0;
      if (json) {
        emit.histogram(dist.json(unit.label, { ...section, sectionHeader: SECTION_BY }, data), { summary: { average, sum: Number(total), count: Number(calls) } });
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(sprintf('%-8s', strftimeHMS()));
      out.write(dist.format(unit.label, section, data));
      if (calls > 0n) {
        out.line('');
        out.line(`avg = ${average} ${unit.label}, total: ${total} ${unit.label}, count: ${calls}`);
        out.line('');
      }
      if (last) out.line('Detaching...');
    });
  },
});
