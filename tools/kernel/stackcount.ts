#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// stackcount: count the stack traces that led to events (BCC's stackcount). The pattern is a probe
// specification (lib/probes): kernel functions, `t:cat:event`, `c:malloc`, `/path/bin:func`,
// `u:lib:probe`. Every hit is counted under its user and kernel stack ids (and its process, when
// user stacks are shown or with -P), in the program lib/probes generates for the matched targets.
import { defineTool, intervalSchedule, opt, positiveSeconds, UsageError, ToolError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { ONE_OF_EACH_KIND, representativeProbes, resolveSpecs } from '../../lib/probes/index.js';
import { attachProbes, generateProgram, unsupportedReason } from '../../lib/probes/codegen.js';
import { ALL_PROCESSES, kernelProbesOnly, stackCountCodegen, stackCountGlobals, type StackCountKey } from '../../lib/probes/stacks.js';
import { printStacks, StackReader, type Frames, type StackSample, type SymbolisedStack } from '../../lib/stacks/index.js';

/** The program for one probe of each kind that runs here (the catalogue's check, the PCH); a run generates its own. */
function representativeProgram(): string {
  const probes = representativeProbes(ONE_OF_EACH_KIND);
  return generateProgram(probes, stackCountCodegen(probes)).text;
}

interface Options {
  pid?: number; cpu?: number; interval?: number; duration?: number; timestamp: boolean; regexp: boolean;
  offset: boolean; perpid: boolean; kernelStacksOnly: boolean; userStacksOnly: boolean; verbose: boolean;
  delimited: boolean; folded: boolean; flamegraph?: string; pattern?: string;
}

defineTool<Options>({
  name: 'stackcount',
  subsystem: 'kernel',
  description: 'Count events and their stack traces',
  ports: { bcc: 'tools/stackcount.py' },
  // generated per run, as funccount's: kernel functions take kprobe.multi (a kprobe each without multi links)
  probes: { raw_tp: ['sys_enter'], tracepoint: ['t:category:event (syscalls at raw_tp)'], uprobe: ['lib:function'], usdt: ['u:lib:probe'] },
  output: 'stacks',
  invocations: [
    { args: ['-D', '1', 't:sched:sched_switch'], ends: 'itself' },
    { args: ['-K', '-f', '-D', '1', 't:sched:sched_switch'], ends: 'itself' },
    { args: ['c:malloc'], ends: 'ctrl-c' },
  ],
  program: representativeProgram(),
  options: {
    pid: opt.pid(),
    cpu: opt.cpu(),
    interval: { alias: 'i', type: 'string', describe: 'summary interval, seconds', coerce: positiveSeconds('interval') },
    duration: { alias: 'D', type: 'string', describe: 'total duration of trace, seconds', coerce: positiveSeconds('duration'), meaning: 'duration' },
    timestamp: opt.flag('T', 'include timestamp on output'),
    regexp: opt.flag('r', 'use regular expressions. Default is "*" wildcards only.'),
    offset: opt.flag('s', 'show address offsets'),
    perpid: opt.flag('P', 'display stacks separately for each process'),
    kernelStacksOnly: opt.flag('K', 'kernel stack only'),
    userStacksOnly: opt.flag('U', 'user stack only'),
    verbose: opt.flag('v', 'show raw addresses'),
    delimited: opt.flag('d', 'insert delimiter between kernel/user stacks'),
    folded: opt.flag('f', 'output folded format'),
    flamegraph: { type: 'string', describe: 'also write the stacks as an interactive SVG flame graph to this file (with -i, the last interval\'s)' },
  },
  positional: '[pattern]',
  examples: [
    ['stackcount submit_bio', 'count kernel stack traces for submit_bio'],
    ['stackcount -d ip_output', 'include a user/kernel stack delimiter'],
    ['stackcount -s ip_output', 'show symbol offsets'],
    ['stackcount -sv ip_output', 'show offsets and raw addresses (verbose)'],
    ["stackcount 'tcp_send*'", 'count stacks for funcs matching tcp_send*'],
    ["stackcount -r '^tcp_send.*'", 'same as above, using regular expressions'],
    ['stackcount -Ti 5 ip_output', 'output every 5 seconds, with timestamps'],
    ['stackcount -p 185 ip_output', 'count ip_output stacks for PID 185 only'],
    ['stackcount -c 1 put_prev_entity', 'count put_prev_entity stacks for CPU 1 only'],
    ['stackcount -p 185 c:malloc', 'count stacks for malloc in PID 185'],
    ['stackcount t:sched:sched_fork', 'count stacks for sched_fork tracepoint'],
    ["stackcount -p 185 'u:node:*'", 'count stacks for all USDT probes in node'],
    ['stackcount -K t:sched:sched_switch', 'kernel stacks only'],
    ['stackcount -U t:sched:sched_switch', 'user stacks only'],
    ['stackcount --flamegraph malloc.svg -D 10 c:malloc', 'ten seconds of malloc stacks as a flame graph'],
    ['stackcount --debug t:sched:sched_switch', 'print the generated BPF program before starting'],
  ],
  validate(o) {
    if (o.kernelStacksOnly && o.userStacksOnly) return '-K and -U are mutually exclusive. If you want both stacks, that is the default.';
    if (o.folded && (o.offset || o.verbose)) return 'can only use -f, or -s/-v';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    // checked here, after the privilege check, so an unprivileged user hears about root first
    if (!opts.pattern) throw new UsageError('the following arguments are required: pattern');
    const probes = resolveSpecs([opts.pattern], { regex: opts.regexp, pid: opts.pid, allow: ['kprobe', 'tracepoint', 'uprobe', 'usdt'] }, m => new UsageError(m));
    const user = !opts.kernelStacksOnly, kernel = !opts.userStacksOnly;
    // BCC: user-space probes, user stacks and -P count per process (a user stack's names are its process's)
    const perProcess = opts.perpid || user || !kernelProbesOnly(probes);
    const gen = generateProgram(probes, stackCountCodegen(probes));
    if (opts.debug) (json ? process.stderr : out).write(gen.text); // BCC's --debug; stdout stays JSON
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    const bpf = load({ text: gen.text, rodata: { ...gen.rodata({ pid: opts.pid, cpu: opts.cpu }), ...stackCountGlobals({ user, kernel, perProcess }) } });
    const { attached } = attachProbes(bpf, gen, { pid: opts.pid });
    const reader = new StackReader(bpf, { user, kernel });
    reader.track('counts', (k: StackCountKey) => (k.tgid === ALL_PROCESSES ? [] : [k.tgid]));
    if (!opts.folded) banner(`Tracing ${attached.length} functions for "${opts.pattern}"... Hit Ctrl-C to end.`);

    const { interval, count } = intervalSchedule(opts); // BCC: -D alone is one interval of that length
    const counts = bpf.map<StackCountKey, bigint>('counts');
    const delimited = opts.delimited && user && kernel;
    await intervals(interval, count, (last, seconds) => {
      const samples: StackSample[] = counts.entries().map(([k, v]) => ({
        pid: k.tgid === ALL_PROCESSES ? 0 : k.tgid, tgid: k.tgid === ALL_PROCESSES ? 0 : k.tgid, comm: k.name,
        userStackId: k.user_stack_id, kernelStackId: k.kernel_stack_id, userCallerIp: k.caller_ip || undefined, value: Number(v),
      }));
      counts.clear();
      if (!opts.folded && !json) out.line('');
      if (opts.timestamp && !json) out.line(sprintf('%-8s', strftimeHMS()));
      // BCC prints the process after a stack unless -p named it (or processes are not told apart)
      const showProcess = !opts.pid && perProcess;
      printStacks(reader, samples, out, {
        delimited,
        json: json ? { emit, seconds, valueField: 'count' } : undefined,
        folded: opts.folded,
        text: { showOffset: opts.offset, showAddress: opts.verbose },
        format: s => stackcountText(s, delimited, showProcess),
        flamegraph: last && opts.flamegraph ? { file: opts.flamegraph, title: 'Stack Count Flame Graph', countName: 'events', palette: 'cpu' } : undefined,
      });
      if (last && !opts.folded && !json) out.line('Detaching...');
    });
    reader.stop();
  },
});

/**
 * BCC's stackcount layout: "  frame" lines (kernel, "    --" with -d, user), "    comm [pid]", "    count",
 * a blank line. -v frames arrive as "0x<16 digits> name": BCC prints the address as "%-16x ".
 */
function stackcountText(s: SymbolisedStack, delimited: boolean, showProcess: boolean): string {
  const lines: string[] = [];
  const side = (f: Frames, missed: string) => {
    if (f === null) lines.push(`  ${missed}`);
    else if (f) for (const frame of f) lines.push(`  ${bccAddress(frame)}`);
  };
  side(s.kernel, '[Missed Kernel Stack]');
  if (delimited) lines.push('    --');
  side(s.user, '[Missed User Stack]');
  if (showProcess) lines.push(`    ${s.comm} [${s.pid}]`);
  lines.push(`    ${s.value}`, '');
  return lines.join('\n') + '\n';
}

function bccAddress(frame: string): string {
  const m = /^0x([0-9a-f]{16}) (.*)$/.exec(frame);
  return m ? `${m[1]!.replace(/^0+(?=.)/, '').padEnd(16)} ${m[2]}` : frame;
}
