#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// trace: print a line for every hit of kernel functions, tracepoints, user functions or USDT probes,
// with a message formatted from the probe's arguments (BCC's trace). Each probe is
//   probe-spec[(signature)] [(filter)] ["format", arg, ...]
// e.g. 't:syscalls:sys_enter_openat "%s", args->filename', 'r::vfs_read (retval < 0) "err %d", retval',
// 'p:c:malloc "size=%d", arg1'. The filter and arguments are C with BCC's names (arg1, retval,
// args->field, $pid, ...), rewritten by lib/probes/expr.ts; the probes' parsing and the generated
// program are lib/probes/trace.ts: each target's statements test the filter and send one record with
// the values to a ring buffer. This file is the options, the run and the printing.
import { defineTool, opt, positiveInt, ToolError, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { attachProbes, unsupportedReason } from '../../lib/probes/codegen.js';
import { ExpressionMarks, UserExpressionError } from '../../lib/probes/expr.js';
import { resolveProbe } from '../../lib/probes/index.js';
import { formatMessage } from '../../lib/probes/printf.js';
import {
  buildTraceTargets, displayFunction, generateTrace, parseTraceProbe, traceProgram, TraceSpecError,
  type TraceCodeOptions, type TraceProbe, type TraceTarget,
} from '../../lib/probes/trace.js';
import { KernelSymbols, ProcessSymbols, formatSymbol, symbolizeStack } from '../../lib/syms/index.js';

interface Options extends TraceCodeOptions {
  pid?: number; tid?: number; uid?: number; bufferPages: number; verbose: boolean; printBpf: boolean;
  stringSize: number; includeSelf: boolean; maxEvents?: number; timestamp: boolean; unixTimestamp: boolean;
  time: boolean; printCpu: boolean; name?: string; msgFilter?: string; kernelStack: boolean; userStack: boolean;
  address: boolean; include?: string[]; aggregate: boolean; probes?: string[];
}

function representativeProgram(): string {
  try {
    const probes = ['t:syscalls:sys_enter_openat "%s", args->filename', 'p:c:malloc (arg1 > 0) "size=%d", arg1', 'u:/usr/bin/python3.11:function__entry "%s", arg2'];
    return traceProgram(probes, spec => resolveProbe(spec));
  } catch {
    return '#include <bpfkit.h>\n';
  }
}

defineTool<Options>({
  name: 'trace',
  subsystem: 'kernel',
  description: 'Trace a function and print a trace message based on its parameters, with an optional filter',
  ports: { bcc: 'tools/trace.py' },
  probes: { tracepoint: [''], uprobe: [''], usdt: [''] },
  output: 'event',
  invocations: [
    { args: ['-M', '1', 't:syscalls:sys_enter_openat "%s", args->filename'], ends: 'itself' },
    { args: ['t:sched:sched_process_exec "%s", args->filename'], ends: 'ctrl-c' },
  ],
  records: o => ({ fields: ['ts_ns', 'pid', 'tid', 'uid', 'comm', 'cpu', 'func', 'probe', 'message', ...(o.kernelStack ? ['kernel_stack'] : []), ...(o.userStack ? ['user_stack'] : [])] }),
  program: representativeProgram(),
  options: {
    bufferPages: { alias: 'b', type: 'string', default: 64, describe: 'number of pages to use for perf_events ring buffer', coerce: positiveInt('buffer pages') },
    pid: opt.pid('id of the process to trace (optional)'),
    tid: opt.tid('id of the thread to trace (optional)', 'L'),
    uid: { ...opt.uid('id of the user to trace (optional)'), alias: undefined },
    verbose: opt.flag('v', 'print resulting BPF program code before executing'),
    printBpf: opt.flag('D', 'print the generated BPF program (same as -v)'),
    stringSize: opt.int('Z', 'maximum size to read from strings', 'string size', 80),
    includeSelf: opt.flag('S', "do not filter trace's own pid from the trace"),
    maxEvents: { ...opt.int('M', 'number of events to print before quitting', 'max events'), coerce: positiveInt('max events') },
    timestamp: opt.flag('t', 'print timestamp column (offset from trace start)'),
    unixTimestamp: opt.flag('u', 'print UNIX timestamp instead of offset from trace start, requires -t'),
    time: opt.flag('T', 'print time column'),
    printCpu: opt.flag('C', 'print CPU id'),
    name: opt.str('n', 'only print process names containing this name'),
    msgFilter: opt.str('f', 'only print the msg of event containing this string'),
    kernelStack: opt.flag('K', 'output kernel stack trace'),
    userStack: opt.flag('U', 'output user stack trace'),
    address: opt.flag('a', 'print virtual address in stacks'),
    include: { alias: 'I', type: 'string', array: true, describe: 'additional header files to include in the BPF program as either full path, or relative to current working directory, or relative to default kernel header search path' },
    aggregate: opt.flag('A', 'aggregate amount of each trace'),
  },
  positional: '[probes...]',
  examples: [
    ['trace do_sys_open', 'Trace the open syscall and print a default trace message when entered'],
    ["trace 'do_sys_openat2 \"%s\", arg2@user'", 'Trace the open syscall and print the filename being opened (arg2@user: a user-space pointer)'],
    ["trace 'do_sys_openat2 \"%s\", arg2@user' -n main", 'Trace the open syscall and only print event that process names containing "main"'],
    ["trace 'do_sys_openat2 \"%s\", arg2@user' --uid 1001", 'Trace the open syscall and only print event that processes with user ID 1001'],
    ["trace 'do_sys_openat2 \"%s\", arg2@user' -f config", 'Trace the open syscall and print the filename being opened filtered by "config"'],
    ["trace 't:syscalls:sys_enter_read (args->count > 20000) \"read %d bytes\", args->count'", 'Trace the read syscall and print a message for reads >20000 bytes'],
    ["trace 'r::do_sys_openat2 \"%llx\", retval'", 'Trace the return from the open syscall and print the return value'],
    ["trace 'c:open (arg2 == 42) \"%s %d\", arg1, arg2'", 'Trace the open() call from libc only if the flags (arg2) argument is 42'],
    ["trace 'c:malloc \"size = %d\", arg1'", 'Trace malloc calls and print the size being allocated'],
    ["trace 'p:c:write (arg1 == 1) \"writing %d bytes to STDOUT\", arg3'", 'Trace the write() call from libc to monitor writes to STDOUT'],
    ["trace 'r::__kmalloc (retval == 0) \"kmalloc failed!\"'", 'Trace returns from __kmalloc which returned a null pointer'],
    ["trace 'r:c:malloc (retval) \"allocated = %x\", retval'", 'Trace returns from malloc and print non-NULL allocated buffers'],
    ["trace 't:block:block_rq_complete \"sectors=%d\", args->nr_sector'", 'Trace the block_rq_complete kernel tracepoint and print # of tx sectors'],
    ["trace 't:syscalls:sys_enter_openat \"%s\", args->filename'", 'Trace openat() at its tracepoint and print the path'],
    ["trace 'u:/usr/bin/python3.11:function__entry \"%s\", arg2'", 'Trace Python function entries (USDT) and print the function name'],
    ["trace 'p::do_nanosleep(struct hrtimer_sleeper *t) \"mode %d\", t->mode'", 'A signature names the arguments; pointers are read through (BPF_CORE_READ)'],
    ["trace -K 't:sched:sched_process_exit'", 'Trace process exits and print the kernel stack of each'],
    ["trace -I 'linux/fs.h' 'p::uprobe_register(struct inode *inode) \"a_ops = %llx\", inode->i_mapping->a_ops'", 'Include a header for a struct the program names'],
  ],
  validate(o) {
    if (o.tid !== undefined && o.pid !== undefined) return 'only one of -p and -L may be specified';
    if (o.aggregate && o.maxEvents === undefined) return '-M/--max-events should be specified with -A/--aggregate';
    if (o.unixTimestamp && !o.timestamp) return '-u/--unix-timestamp requires -t';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, untilExit, monotonicNs }) {
    // here, not in validate(): without privileges, that is what a bare `trace` says first
    if (!opts.probes?.length) throw new UsageError('the following arguments are required: probe');
    let probes: TraceProbe[];
    let targets: TraceTarget[];
    try {
      probes = opts.probes!.map(parseTraceProbe);
      targets = buildTraceTargets(probes, spec => resolveProbe(spec, { pid: opts.pid ?? opts.tid }));
    } catch (e) {
      if (e instanceof TraceSpecError) throw new UsageError(e.message);
      throw e;
    }
    // BCC's -t offsets count from before the probes are attached
    const firstTs = monotonicNs();
    const firstReal = Date.now() / 1000;
    const marks = new ExpressionMarks();
    const gen = generateTrace(targets, opts, marks);
    if (opts.verbose || opts.printBpf) process.stderr.write(gen.text);
    const missing = unsupportedReason(gen);
    if (missing) throw new ToolError(missing);
    const rodata = { ...gen.rodata({ pid: opts.pid }), targ_tid: opts.tid ?? 0, targ_uid: opts.uid ?? -1 >>> 0, targ_self: opts.includeSelf ? 0 : process.pid };
    let bpf;
    try {
      bpf = marks.load(gen.text, () => load({ text: gen.text, rodata }));
    } catch (e) {
      if (e instanceof UserExpressionError) throw new UsageError(e.message);
      throw e;
    }
    attachProbes(bpf, gen, { pid: opts.pid });

    const trivial = targets.every(t => !t.probe.format);
    const unixTime = opts.timestamp && opts.unixTimestamp;
    if (!json) {
      let header = '';
      if (opts.timestamp || opts.time) header += sprintf(unixTime ? '%-17s ' : '%-8s ', 'TIME');
      if (opts.printCpu) header += sprintf('%-3s ', 'CPU');
      out.line(header + sprintf('%-7s %-7s %-15s %-16s %s', 'PID', 'TID', 'COMM', 'FUNC', trivial ? '' : '-'));
      out.flush();
    } else banner(`Tracing ${targets.length} probe${targets.length === 1 ? '' : 's'}... Hit Ctrl-C to end.`); // on stderr: says it has attached

    const probeOf = bpf.fieldReaders('trace_header').probe!;
    const decoders = targets.map(t => bpf!.decoder<{ h: Record<string, any>; [v: string]: any }>(`trace_event_${t.index}`));
    const kernelSymbols = () => KernelSymbols.load();
    const processSymbols = new Map<number, ProcessSymbols>();
    const userSymbols = (pid: number) => {
      let s = processSymbols.get(pid);
      if (!s) processSymbols.set(pid, (s = ProcessSymbols.forPid(pid)));
      return s;
    };
    const symbol = (tgid: number) => (kind: 'K' | 'U', addr: bigint) => kind === 'K'
      ? formatSymbol(kernelSymbols().resolve(addr), addr, { showOffset: true })
      : formatSymbol(userSymbols(tgid).resolve(addr), addr, { showOffset: true, showModule: true });
    const stackLines = (id: number, kind: 'kernel' | 'user', tgid: number): string[] => {
      if (id < 0) return [`        ${id}`];
      const ips = bpf!.stackIps('stacks', id);
      const names = symbolizeStack(ips, kind, kind === 'user' ? tgid : undefined, { showOffset: true, showModule: true, processSymbols: kind === 'user' ? userSymbols(tgid) : undefined });
      return names.map((n, i) => `        ${opts.address ? `${ips[i]!.toString(16).padStart(16)} ` : ''}${n}`);
    };

    let count = 0;
    const aggregated = new Map<string, number>();
    let done: () => void = () => {};
    const maxReached = new Promise<void>(resolve => (done = resolve));
    bpf.rawEvents('events', (dv, off) => {
      if (opts.maxEvents !== undefined && count >= opts.maxEvents) return;
      // the record's struct is its target's: the header says which
      const target = targets[probeOf(dv, off) as number];
      if (!target) return;
      const e = decoders[target.index]!.decode(dv, off);
      const h = e.h;
      if (opts.name && !String(h.comm).includes(opts.name)) return;
      const values = target.values.map((_, i) => e[`v${i}`]);
      const msg = target.probe.format ? formatMessage(target.probe.format.pieces, values, symbol(h.tgid)) : '';
      if (opts.msgFilter && !msg.includes(opts.msgFilter)) return;
      count++;
      const func = displayFunction(target.resolved);
      if (json) {
        emit.event({
          pid: h.tgid, tid: h.pid, uid: h.uid, comm: h.comm, cpu: h.cpu, func, probe: target.probe.spec.text, message: msg,
          ...(opts.kernelStack ? { kernel_stack: stackLines(h.kernel_stack, 'kernel', h.tgid).map(s => s.trim()) } : {}),
          ...(opts.userStack ? { user_stack: stackLines(h.user_stack, 'user', h.tgid).map(s => s.trim()) } : {}),
        }, { tsNs: BigInt(h.ts) });
      } else {
        let line = '';
        if (opts.timestamp || opts.time) {
          const offset = Number(BigInt(h.ts) - firstTs) / 1e9;
          const t = opts.timestamp ? (unixTime ? (offset + firstReal).toFixed(6) : offset.toFixed(6)) : strftimeHMS();
          line += sprintf(unixTime ? '%-17s ' : '%-8s ', t.slice(0, unixTime ? 17 : 8));
        }
        if (opts.printCpu) line += sprintf('%-3s ', String(h.cpu));
        let text = line + sprintf('%-7d %-7d %-15s %-16s %s', h.tgid, h.pid, h.comm, func, msg) + '\n';
        if (opts.kernelStack) text += stackLines(h.kernel_stack, 'kernel', h.tgid).join('\n') + '\n';
        if (opts.userStack) text += stackLines(h.user_stack, 'user', h.tgid).join('\n') + '\n';
        if (opts.aggregate) aggregated.set(text, (aggregated.get(text) ?? 0) + 1);
        else {
          out.write(text);
          if (opts.kernelStack || opts.userStack) out.line('');
        }
      }
      if (opts.maxEvents !== undefined && count >= opts.maxEvents) done();
    });
    await Promise.race([untilExit(), maxReached]);
    if (opts.aggregate) {
      for (const [text, n] of [...aggregated].sort((a, b) => b[1] - a[1])) out.write(`${text}-->COUNT ${n}\n\n`);
    }
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`trace: ${lost} events lost (the ring buffer was full: raise -b)\n`);
  },
});
