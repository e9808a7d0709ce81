#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// argdist: histograms (-H) and frequency counts (-C) of function arguments, return values, tracepoint
// fields and USDT arguments (BCC's argdist). A specifier is
//   {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
// e.g. 't:syscalls:sys_enter_read():u64:args->count', 'p:c:malloc(size_t size):size_t:size',
// 'r::vfs_read():int:$retval'. At return probes $entry(param) and $latency read what an entry program
// saved per thread (lib/probes codegen's entry/return pairs). Expressions are C with BCC's names,
// rewritten by lib/probes/expr.ts; each specifier has its own map: a log2 histogram or a hash of keys.
// The specifiers' parsing and the generated program are lib/probes/argdist.ts; this file is the
// options, the run and the printing.
import { defineTool, opt, positiveInt, positiveSeconds, ToolError, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import {
  argdistProgram, buildArgdistTargets, generateArgdist, parseSpecifiers, SpecifierError,
  type ArgdistCodeOptions, type ArgdistTarget, type Specifier,
} from '../../lib/probes/argdist.js';
import { attachProbes, unsupportedReason } from '../../lib/probes/codegen.js';
import { ExpressionMarks, UserExpressionError } from '../../lib/probes/expr.js';
import { resolveProbe } from '../../lib/probes/index.js';

interface Options extends ArgdistCodeOptions {
  pid?: number; tid?: number; stringSize: number; interval: number; duration?: number; number?: number;
  verbose: boolean; printBpf: boolean; cumulative: boolean; top?: number; histogram?: string[]; count?: string[];
  include?: string[];
}

function representativeProgram(): string {
  try {
    return argdistProgram(['p:c:malloc(size_t size):size_t:size'], ['t:syscalls:sys_enter_read():u64:args->count'], spec => resolveProbe(spec));
  } catch {
    return '#include <bpfkit.h>\n';
  }
}

defineTool<Options>({
  name: 'argdist',
  subsystem: 'kernel',
  description: 'Trace a function and display a summary of its parameter values',
  ports: { bcc: 'tools/argdist.py' },
  probes: { tracepoint: [''], uprobe: [''] },
  output: ['histogram', 'counts'],
  invocations: [
    { args: ['-i', '1', '-n', '1', '-H', 't:syscalls:sys_enter_read():u64:args->count'], ends: 'itself' },
    { args: ['-i', '1', '-n', '1', '-C', 't:syscalls:sys_enter_openat():int:args->dfd'], ends: 'itself' },
  ],
  records: o => ({ ...(o.histogram?.length ? { sectionBy: HIST_SECTION_BY } : {}), ...(o.count?.length ? { fields: ['probe', 'count', 'event', 'value'] } : {}) }),
  program: representativeProgram(),
  options: {
    pid: opt.pid('id of the process to trace (optional)'),
    tid: opt.tid('id of the thread to trace (optional)'),
    stringSize: opt.int('z', 'maximum string size to read from char* arguments', 'string size', 80),
    interval: { alias: 'i', type: 'string', default: 1, describe: 'output interval, in seconds (default 1 second)', coerce: positiveSeconds('interval') },
    duration: { alias: 'd', type: 'string', describe: 'total duration of trace, in seconds', coerce: positiveSeconds('duration'), meaning: 'duration' },
    number: { ...opt.int('n', 'number of outputs', 'number of outputs'), coerce: positiveInt('number of outputs') },
    verbose: opt.flag('v', 'print resulting BPF program code before executing'),
    printBpf: opt.flag('D', 'print the generated BPF program (same as -v)'),
    cumulative: opt.flag('c', 'do not clear histograms and freq counts at each interval'),
    top: { ...opt.int('T', 'number of top results to show (not applicable to histograms)', 'top'), coerce: positiveInt('top') },
    histogram: { alias: 'H', type: 'string', array: true, describe: 'probe specifier to capture histogram of (see examples below)' },
    count: { alias: 'C', type: 'string', array: true, describe: 'probe specifier to capture count of (see examples below)' },
    include: { alias: 'I', type: 'string', array: true, describe: 'additional header files to include in the BPF program as either full path, or relative to current working directory, or relative to default kernel header search path' },
  },
  examples: [
    ["argdist -H 'p::__kmalloc(u64 size):u64:size'", 'Print a histogram of allocation sizes passed to kmalloc'],
    ["argdist -p 1005 -C 'p:c:malloc(size_t size):size_t:size:size==16'", 'Print a frequency count of how many times process 1005 called malloc with an allocation size of 16 bytes'],
    ["argdist -C 'r:c:gets():char*:(char*)$retval#snooped strings'", 'Snoop on all strings returned by gets()'],
    ["argdist -H 'r::__kmalloc(size_t size):u64:$latency/$entry(size)#ns per byte'", 'Print a histogram of nanoseconds per byte from kmalloc allocations'],
    ["argdist -p 1005 -C 'p:c:write(int fd):int:fd' -T 5", 'Print frequency counts of how many times writes were issued to a particular file descriptor number, in process 1005, but only show the top 5 busiest fds'],
    ["argdist -p 1005 -H 'r:c:read()'", 'Print a histogram of results (sizes) returned by read() in process 1005'],
    ["argdist -C 'r::vfs_read():u32:$PID:$latency > 100000'", 'Print frequency of reads by process where the latency was >0.1ms'],
    ["argdist -C 'r::vfs_read():u32:$COMM:$latency > 100000'", 'Print frequency of reads by process name where the latency was >0.1ms'],
    ["argdist -H 'r::vfs_read(void *file, void *buf, size_t count):size_t:$entry(count):$latency > 1000000'", 'Print a histogram of read sizes that were longer than 1ms'],
    ["argdist -H 'p:c:write(int fd, const void *buf, size_t count):size_t:count:fd==1'", 'Print a histogram of buffer sizes passed to write() across all processes, where the file descriptor was 1 (STDOUT)'],
    ["argdist -C 'p:c:fork()#fork calls'", 'Count fork() calls in libc across all processes'],
    ["argdist -H 't:syscalls:sys_enter_read():u64:args->count'", 'Print a histogram of the sizes read(2) is asked for'],
    ["argdist -H 't:block:block_rq_complete():u32:args->nr_sector'", 'Print histogram of number of sectors in completing block I/O requests'],
    ["argdist -C 't:irq:irq_handler_entry():int:args->irq'", 'Aggregate interrupts by interrupt request (IRQ)'],
    ["argdist -H 'r::vfs_read():int:$retval'", 'Print a histogram of what vfs_read() returns'],
    ["argdist -H 'p:c:sleep(u32 seconds):u32:seconds' -H 'p:c:nanosleep(struct timespec *req):long:req->tv_nsec'", 'Print histograms of sleep() and nanosleep() parameter values'],
    ["argdist -p 2780 -z 120 -C 'p:c:write(int fd, char* buf, size_t len):char*:buf:fd==1'", 'Spy on writes to STDOUT performed by process 2780, up to a string size of 120 characters'],
  ],
  async run({ opts, load, out, json, emit, intervals }) {
    // here, not in validate(): without privileges, that is what a bare `argdist` says first
    if (!opts.histogram?.length && !opts.count?.length) throw new UsageError('at least one specifier is required');
    let specs: Specifier[];
    let targets: ArgdistTarget[];
    const marks = new ExpressionMarks();
    let gen;
    try {
      specs = parseSpecifiers(opts.count ?? [], opts.histogram ?? []);
      targets = buildArgdistTargets(specs, spec => resolveProbe(spec, { pid: opts.pid }));
      gen = generateArgdist(targets, specs, opts, marks);
    } catch (e) {
      if (e instanceof SpecifierError) throw new UsageError(e.message);
      throw e;
    }
    if (opts.verbose || opts.printBpf) process.stderr.write(gen.text);
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    let bpf;
    try {
      bpf = marks.load(gen.text, () => load({ text: gen.text, rodata: { ...gen.rodata({ pid: opts.pid }), targ_tid: opts.tid ?? 0 } }));
    } catch (e) {
      if (e instanceof UserExpressionError) throw new UsageError(e.message);
      throw e;
    }
    attachProbes(bpf, gen, { pid: opts.pid });
    process.stderr.write(`argdist: tracing ${specs.length} specifier${specs.length === 1 ? '' : 's'} on ${targets.length} target${targets.length === 1 ? '' : 's'}... Hit Ctrl-C to end.\n`);

    const interval = opts.interval;
    let count = opts.number ?? 99999999;
    if (opts.duration) count = Math.min(count, Math.max(1, Math.ceil(opts.duration / interval - 1e-9)));
    await intervals(interval, count, (_last, seconds) => {
      if (!json) out.line(`[${strftimeHMS()}]`);
      const rows: Record<string, unknown>[] = [];
      for (const s of specs) {
        const title = s.label ?? s.raw;
        if (s.kind === 'hist') {
          const hist = bpf!.histogram(`argdist_hist_${s.index}`);
          const data = hist.read(!opts.cumulative);
          const valType = s.label ?? (s.defaultExpr ? 'retval' : s.exprs[0]!);
          if (json) emit.histogram(hist.json(valType, { asSection: { by: HIST_SECTION_BY, key: title } }, data), { interval_s: seconds });
          else {
            const text = hist.format(valType, {}, data);
            if (text) out.write(text.endsWith('\n') ? text : text + '\n');
          }
          continue;
        }
        const map = bpf!.map<Record<string, unknown>, bigint | number>(`argdist_counts_${s.index}`);
        let entries = [...(opts.cumulative ? map.entries() : map.drain())].map(([k, v]) => ({ key: k, count: Number(v) }));
        entries.sort((a, b) => a.count - b.count);
        if (opts.top !== undefined) entries = entries.slice(-opts.top);
        const keyText = (k: Record<string, unknown>) => {
          if (s.defaultExpr) return s.spec.type === 'kretprobe' || s.spec.type === 'uretprobe' ? `retval = ${String(k.v0)}` : 'total calls';
          return s.exprs.map((x, i) => `${x} = ${String(k[`v${i}`])}`).join(', ');
        };
        if (json) {
          for (const e of entries) {
            // one value: it is `value` too (rows are flat); several are in `event` only
            rows.push({ probe: title, count: e.count, event: keyText(e.key), value: s.exprs.length === 1 && !s.defaultExpr ? jsonValue(e.key.v0) : null });
          }
          continue;
        }
        out.line(title);
        out.line(sprintf('\t%-10s %s', 'COUNT', 'EVENT'));
        for (const e of entries) out.line(sprintf('\t%-10s %s', String(e.count), keyText(e.key)));
      }
      if (json && specs.some(s => s.kind === 'freq')) emit.counts(seconds, rows);
    });
  },
});

/** --json: each -H histogram is one section keyed by its probe, so that a consumer (bpfkit export) tells them apart. */
const HIST_SECTION_BY = 'probe';

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v ?? null;
}
