#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// funccount: count kernel functions, tracepoints, user functions and USDT probes matching a pattern
// (BCC's funccount). The pattern is a probe specification (lib/probes): `vfs_*`, `t:sched:sched_*`,
// `c:malloc`, `/path/bin:func*`, `u:/usr/bin/python3.11:function__*`. The BPF program is generated
// for the targets it matches: one program per probe kind, each hit counted under the target's id in
// a per-CPU array. Syscall tracepoints are counted at raw sys_enter/sys_exit (two links instead of
// one perf event per syscall, each ~80 ms to close at exit).
import { defineTool, intervalSchedule, opt, positiveSeconds, UsageError, ToolError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import {
  ONE_OF_EACH_KIND, representativeProbes, resolveSpecs, type ResolvedProbe,
} from '../../lib/probes/index.js';
import { attachProbes, generateProgram, unsupportedReason, type CodegenOptions } from '../../lib/probes/codegen.js';

/** What every hit does (exported for the VM lane, which precompiles the program a run generates). */
export const codegen: CodegenOptions = {
  prelude: 'BPF_PERCPU_ARRAY(counts, u64, BPFKIT_NPROBES);',
  onHit: 'map_increment(counts, probe_id);',
  fentry: true, // a function named exactly: fentry where the kernel has trampolines, else a kprobe
};

/**
 * The program for a fixed set of probes, one of each kind that runs here (the catalogue's check and
 * the precompiled PCH); a run generates its own for the targets its pattern matches.
 */
function representativeProgram(): string {
  return generateProgram(representativeProbes(ONE_OF_EACH_KIND), codegen).text;
}

interface Options { pid?: number; interval?: number; duration?: number; timestamp: boolean; regexp: boolean; printBpf: boolean; cpu?: number; pattern?: string }

defineTool<Options>({
  name: 'funccount',
  subsystem: 'kernel',
  description: 'Count functions, tracepoints, and USDT probes',
  ports: { bcc: 'tools/funccount.py' },
  // generated per run; kernel functions take kprobe.multi (one kprobe each without multi links), and
  // syscall exits raw_tp/sys_exit
  probes: { raw_tp: ['sys_enter'], tracepoint: ['t:category:event (syscalls at raw_tp)'], uprobe: ['lib:function'], usdt: ['u:lib:probe'] },
  output: 'counts',
  invocations: [
    { args: ['-d', '1', 't:syscalls:sys_enter_*'], ends: 'itself' },
    { args: ['c:malloc'], ends: 'ctrl-c' },
    { args: ['-i', '1', 't:sched:sched_switch'], ends: 'ctrl-c' },
  ],
  records: () => ({ fields: ['func', 'count'] }),
  program: representativeProgram(),
  options: {
    pid: opt.pid(),
    interval: { alias: 'i', type: 'string', describe: 'summary interval, seconds', coerce: positiveSeconds('interval') },
    duration: { alias: 'd', type: 'string', describe: 'total duration of trace, seconds', coerce: positiveSeconds('duration'), meaning: 'duration' },
    timestamp: opt.flag('T', 'include timestamp on output'),
    regexp: opt.flag('r', 'use regular expressions. Default is "*" wildcards only.'),
    printBpf: { alias: 'D', type: 'boolean', default: false, describe: 'print BPF program before starting (for debugging purposes)' },
    cpu: opt.cpu(),
  },
  positional: '[pattern]',
  examples: [
    ["funccount 'vfs_*'", 'count kernel fns starting with "vfs"'],
    ["funccount -r '^vfs.*'", 'same as above, using regular expressions'],
    ["funccount -Ti 5 'vfs_*'", 'output every 5 seconds, with timestamps'],
    ["funccount -d 10 'vfs_*'", 'trace for 10 seconds only'],
    ["funccount -p 185 'vfs_*'", 'count vfs calls for PID 181 only'],
    ['funccount t:sched:sched_fork', 'count calls to the sched_fork tracepoint'],
    ["funccount 't:syscalls:sys_enter_*'", 'count every system call, by syscall'],
    ["funccount -p 185 'u:/usr/bin/python3.11:function__*'", 'count python function entries/returns (USDT), PID 185'],
    ['funccount c:malloc', 'count all malloc() calls in libc'],
    ["funccount ./test:'read*'", 'count "read*" calls in the ./test binary'],
    ["funccount -c 1 'vfs_*'", 'count vfs calls on CPU 1 only'],
  ],
  async run({ opts, load, out, json, emit, banner, intervals }) {
    // checked here, after the privilege check, so an unprivileged user hears about root first
    if (!opts.pattern) throw new UsageError('the following arguments are required: pattern');
    const probes = resolveSpecs([opts.pattern], { regex: opts.regexp, pid: opts.pid }, m => new UsageError(m));
    const gen = generateProgram(probes, codegen);
    if (opts.printBpf) {
      if (json) process.stderr.write(gen.text); // stdout stays JSON
      else out.line(gen.text.trimEnd());
    }
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    const bpf = load({ text: gen.text, rodata: gen.rodata({ pid: opts.pid, cpu: opts.cpu }) });
    const { attached } = attachProbes(bpf, gen, { pid: opts.pid });
    banner(`Tracing ${attached.length} functions for "${opts.pattern}"... Hit Ctrl-C to end.`);

    const { interval, count } = intervalSchedule(opts);
    const counts = bpf.map<number, bigint[]>('counts');
    await intervals(interval, count, (last, seconds) => {
      const rows: { probe: ResolvedProbe; count: number }[] = [];
      for (const p of probes) {
        const n = (counts.get(p.id) ?? []).reduce((a, b) => a + Number(b), 0);
        if (n) rows.push({ probe: p, count: n });
      }
      if (!last) counts.clear();
      rows.sort((a, b) => a.count - b.count || a.probe.id - b.probe.id);
      if (json) {
        emit.counts(seconds, rows.map(r => ({ func: r.probe.label, count: r.count })));
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(sprintf('%-8s', strftimeHMS()));
      out.line(sprintf('%-36s %8s', 'FUNC', 'COUNT'));
      for (const r of rows) out.line(sprintf('%-36s %8d', r.probe.label, r.count));
      if (last) out.line('Detaching...');
    });
  },
});
