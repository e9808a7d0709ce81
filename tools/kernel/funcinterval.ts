#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// funcinterval: the time between successive calls of a kernel function, a user function or a
// tracepoint, as a histogram (BCC's funcinterval). The pattern is a probe specification
// (lib/probes): `vfs_read`, `t:sched:sched_switch`, `c:malloc`, `/path/bin:func`. As BCC's, one
// last-call time for all that the pattern matches (and -p allows), reset at every print.
import { defineTool, intervalSchedule, opt, ToolError, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { representativeProbes, resolveSpecs, type ResolvedProbe } from '../../lib/probes/index.js';
import { attachProbes, generateProgram, unsupportedReason, type CodegenOptions } from '../../lib/probes/codegen.js';
import { timedHistogramOptions, timeUnit } from '../../lib/probes/latency.js';

const codegen: CodegenOptions = {
  prelude: `
const volatile u64 unit_ns = 1;          /* -u: 1000, -m: 1000000 */

BPF_HASH(start, u32, u64, 1);            /* the last call */
BPF_HISTOGRAM(dist);`,
  onHit: `
u32 index = 0;
u64 ts = bpf_ktime_get_ns();
u64 *tsp = bpf_map_lookup_elem(&start, &index);
/* another CPU may have stored a later time meanwhile: no interval then */
u64 prev = tsp ? *tsp : 0;
if (prev && ts >= prev)
	map_increment(dist, bpf_log2l((ts - prev) / unit_ns));
bpf_map_update_elem(&start, &index, &ts, BPF_ANY);`,
};

function representativeProgram(): string {
  return generateProgram(representativeProbes(['t:sched:sched_switch', 'c:malloc']), codegen).text;
}

interface Options {
  pid?: number; interval?: number; duration?: number; timestamp: boolean; microseconds: boolean; milliseconds: boolean;
  verbose: boolean; printBpf: boolean; pattern?: string;
}

/** BCC's banner words for what the pattern names. */
function attachType(p: ResolvedProbe): string {
  if (p.type === 'tracepoint') return 'tracepoint';
  if (p.type === 'usdt') return 'USDT probe';
  return p.type === 'kprobe' ? 'kprobe function' : 'uprobe function';
}

defineTool<Options>({
  name: 'funcinterval',
  subsystem: 'kernel',
  description: 'Time interval and print latency as a histogram',
  ports: { bcc: 'tools/funcinterval.py' },
  probes: { tracepoint: [''], uprobe: [''] },
  output: 'histogram',
  invocations: [
    { args: ['-d', '1', 't:sched:sched_switch'], ends: 'itself' },
    { args: ['-u', 'c:malloc'], ends: 'ctrl-c' },
  ],
  records: () => ({}),
  program: representativeProgram(),
  options: {
    ...timedHistogramOptions(),
    verbose: opt.flag('v', 'print the BPF program (for debugging purposes)'),
    printBpf: { alias: 'D', type: 'boolean', default: false, describe: 'print the BPF program before starting (as -v)' },
  },
  positional: '[pattern]',
  examples: [
    ['funcinterval do_sys_open', 'time the interval of do_sys_open()'],
    ['funcinterval -u xhci_ring_ep_doorbell', 'time the interval of xhci_ring_ep_doorbell(), in microseconds'],
    ['funcinterval -m do_nanosleep', 'time the interval of do_nanosleep(), in milliseconds'],
    ['funcinterval -mTi 5 vfs_read', 'output every 5 seconds, with timestamps'],
    ['funcinterval -p 181 vfs_read', 'time process 181 only'],
    ['funcinterval t:vmscan:mm_vmscan_direct_reclaim_begin', 'time the interval of mm_vmscan_direct_reclaim_begin tracepoint'],
    ['funcinterval -p `pidof -s top` -i 3 c:malloc', 'time the interval of c:malloc used by top every 3 seconds'],
    ['funcinterval /usr/local/bin/python:main', 'time /usr/local/bin/python main function'],
  ],
  validate(o) {
    if (o.microseconds && o.milliseconds) return 'use only one of -u and -m';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    // checked here, after the privilege check, so that an unprivileged user hears about root first
    if (!opts.pattern) throw new UsageError('the following arguments are required: pattern');
    const probes = resolveSpecs([opts.pattern!], { pid: opts.pid, allow: ['kprobe', 'uprobe', 'tracepoint', 'usdt'] }, m => new UsageError(m));
    const gen = generateProgram(probes, codegen);
    if (opts.verbose || opts.printBpf) process.stderr.write(gen.text);
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    const unit = timeUnit(opts);
    const bpf = load({ text: gen.text, rodata: { ...gen.rodata({ pid: opts.pid }), unit_ns: BigInt(unit.divisor) } });
    attachProbes(bpf, gen, { pid: opts.pid });
    // BCC names what was matched by the pattern's kind and its name part ("uprobe function for \"malloc\"")
    const spec = probes[0]!.spec;
    const named = spec.type === 'tracepoint' ? `${spec.category}:${spec.name}` : spec.name;
    banner(`Tracing ${attachType(probes[0]!)} for "${named}"... Hit Ctrl-C to end.`);

    const dist = bpf.histogram('dist');
    const start = bpf.map<number, bigint>('start');
    const { interval, count } = intervalSchedule(opts);
    await intervals(interval, count, last => {
      const data = dist.read(true);
      start.clear();
      if (json) {
        emit.histogram(dist.json(unit.label, {}, data));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(sprintf('%-8s', strftimeHMS()));
      out.write(dist.format(unit.label, {}, data));
      if (last) out.line('Detaching...');
    });
  },
});
