#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// memleak: outstanding (not yet freed) allocations by stack, BCC's memleak. With -p PID or -c COMMAND,
// user mode: uprobes and uretprobes on the allocator functions of libc (or -O OBJ); without, kernel
// mode: the kmem tracepoints (kmalloc, kmem_cache_alloc, page allocations and their frees; percpu with
// --percpu). Each allocation is kept by address with its size, time and stack id until it is freed;
// every interval the oldest ones (-o) are grouped by stack and the largest stacks printed.
//
// Kernel 6.x has no kmalloc_node/kmem_cache_alloc_node tracepoints any more: kmalloc and
// kmem_cache_alloc cover the node variants too.
import { spawn, type ChildProcess } from 'node:child_process';
import { defineTool, opt, positiveInt } from '../../lib/cli/index.js';
import { positionalChecks } from '../../lib/cli/options.js';
import { bpfSource } from '../../lib/compile/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { isProbeFrame } from '../../lib/stacks/index.js';
import { frameText, KernelSymbols, ProcessSymbols } from '../../lib/syms/index.js';
import { ElfFile } from '../../lib/syms/elf.js';
import { resolveLibrary } from '../../lib/syms/libraries.js';

const program = bpfSource('memleak.bpf.c');

/** The allocator functions of user mode: the uprobe program is <name>_enter, the uretprobe <name>_exit. */
const USER_FUNCTIONS: { name: string; canFail?: boolean; noReturn?: boolean }[] = [
  { name: 'malloc' }, { name: 'calloc' }, { name: 'realloc' }, { name: 'mmap', canFail: true },
  { name: 'posix_memalign' }, { name: 'valloc', canFail: true }, { name: 'memalign' }, { name: 'pvalloc', canFail: true },
  { name: 'aligned_alloc', canFail: true }, { name: 'free', noReturn: true }, { name: 'munmap', canFail: true, noReturn: true },
];
const USER_PROGRAMS = USER_FUNCTIONS.flatMap(f => (f.noReturn ? [`${f.name}_enter`] : [`${f.name}_enter`, `${f.name}_exit`]));
const KMEM_PROGRAMS = ['kfree', 'kmalloc', 'kmem_cache_alloc', 'kmem_cache_free', 'mm_page_alloc', 'mm_page_free'].map(e => `tracepoint__kmem__${e}`);
const PERCPU_PROGRAMS = ['percpu_alloc_percpu', 'percpu_free_percpu'].map(e => `tracepoint__percpu__${e}`);
const EXEC_PROGRAM = 'tracepoint__sched__sched_process_exec';

interface Options {
  pid?: number;
  trace: boolean;
  showAllocs: boolean;
  older: number;
  command?: string;
  combinedOnly: boolean;
  waMissingFree: boolean;
  sampleRate: number;
  top: number;
  minSize?: number;
  maxSize?: number;
  obj: string;
  percpu: boolean;
  sort: string;
  symbolsPrefix?: string;
  interval?: string;
  count?: string;
}

interface AllocInfo { size: bigint; timestamp_ns: bigint; stack_id: number }
interface CombinedInfo { total_size: bigint; number_of_allocs: bigint }
interface TraceEvent { size: bigint; addr: bigint; what: number; pid: number; comm: string }

/** One stack's outstanding allocations, as a print shows them. */
interface Outstanding { stackId: number; bytes: number; allocations: number }

const SORT_KEYS = ['size', 'count'];

/**
 * Starts `command` (split at white space, as BCC does) held before its exec: a shell waits for a line
 * on fd 3, then becomes the command (the same PID), so the probes are attached before it allocates.
 */
function startHeldCommand(command: string, stdout: 'inherit' | 'stderr'): { child: ChildProcess; go(): void } {
  const argv = command.trim().split(/\s+/);
  const child = spawn('sh', ['-c', 'read -r go <&3; exec 3<&-; exec "$@"', 'sh', ...argv], {
    stdio: ['inherit', stdout === 'stderr' ? process.stderr : 'inherit', 'inherit', 'pipe'],
  });
  return { child, go: () => (child.stdio[3] as NodeJS.WritableStream).end('go\n') };
}

/** A function symbol's address in an ELF file, or undefined when it cannot be read there. */
function functionAddress(file: string, symbol: string): bigint | undefined {
  try {
    return ElfFile.cached(file).functionSymbol(symbol)?.value;
  } catch {
    return undefined;
  }
}

defineTool<Options>({
  name: 'memleak',
  subsystem: 'mem',
  description: 'Trace outstanding memory allocations that were not freed, by stack',
  ports: { bcc: 'tools/memleak.py', 'libbpf-tools': 'libbpf-tools/memleak.bpf.c' },
  probes: {
    uprobe: USER_FUNCTIONS.map(f => `c:${f.name}`),
    uretprobe: USER_FUNCTIONS.filter(f => !f.noReturn).map(f => `c:${f.name}`),
    tracepoint: ['kmem/kfree', 'kmem/kmalloc', 'kmem/kmem_cache_alloc', 'kmem/kmem_cache_free', 'kmem/mm_page_alloc', 'kmem/mm_page_free',
      'percpu/percpu_alloc_percpu', 'percpu/percpu_free_percpu', 'sched/sched_process_exec'],
  },
  output: ['stacks', 'event'],
  invocations: [
    { args: ['1', '1'], ends: 'itself' }, { args: ['--combined-only', '1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' },
    { args: ['-t', '-c', 'dd if=/dev/zero of=/dev/null bs=1M count=1 status=none'], ends: 'itself' },
  ],
  records: o => (o.trace ? { fields: ['comm', 'pid', 'call', 'size', 'address'] } : undefined), // -t: its events; else stacks
  program,
  options: {
    pid: opt.pid('the PID to trace; if not specified, trace kernel allocs'),
    trace: opt.flag('t', 'print trace messages for each alloc/free call'),
    showAllocs: opt.flag('a', 'show allocation addresses and sizes as well as call stacks'),
    older: opt.int('o', 'prune allocations younger than this age in milliseconds', 'age', 500),
    command: opt.str('c', 'execute and trace the specified command'),
    combinedOnly: { type: 'boolean', default: false, describe: 'show combined allocation statistics only' },
    waMissingFree: { type: 'boolean', default: false, describe: 'workaround to alleviate misjudgments when free is missing' },
    sampleRate: { ...opt.int('s', 'sample every N-th allocation to decrease the overhead', 'sample rate', 1), coerce: positiveInt('sample rate') },
    top: { ...opt.int('T', 'display only this many top allocating stacks (by size)', 'top', 10), coerce: positiveInt('top') },
    minSize: opt.int('z', 'capture only allocations larger than or equal to this size', 'min size'),
    maxSize: opt.int('Z', 'capture only allocations smaller than or equal to this size', 'max size'),
    obj: { alias: 'O', type: 'string', default: 'c', describe: 'attach to allocator functions in the specified object' },
    percpu: { type: 'boolean', default: false, describe: 'trace percpu allocations' },
    sort: { type: 'string', default: 'size', describe: 'report sorted in given key; available key list: size, count' },
    symbolsPrefix: { type: 'string', describe: 'memory allocator symbols prefix' },
  },
  positional: '[interval] [count]',
  examples: [
    ['memleak -p $(pidof allocs)', 'trace allocations and display a summary of "leaked" (outstanding) allocations every 5 seconds'],
    ['memleak -p $(pidof allocs) -t', 'trace allocations and display each individual allocator function call'],
    ['memleak -ap $(pidof allocs) 10', 'trace allocations and display allocated addresses, sizes, and stacks every 10 seconds for outstanding allocations'],
    ['memleak -c "./allocs"', 'run the specified command and trace its allocations'],
    ['memleak', 'trace allocations in kernel mode and display a summary of outstanding allocations every 5 seconds'],
    ['memleak -o 60000', 'trace allocations in kernel mode and display a summary of outstanding allocations that are at least one minute (60 seconds) old'],
    ['memleak -s 5', 'trace roughly every 5th allocation, to reduce overhead'],
    ['memleak --sort count', 'trace allocations in kernel mode and display a summary of outstanding allocations that are sorted in count order'],
  ],
  validate(o) {
    if (!SORT_KEYS.includes(o.sort)) return `invalid sort key: '${o.sort}' (available: ${SORT_KEYS.join(', ')})`;
    if (o.minSize !== undefined && o.maxSize !== undefined && o.minSize > o.maxSize) return "min_size (-z) can't be greater than max_size (-Z)";
    if (o.pid !== undefined && o.command !== undefined) return 'can only use -p or -c';
    if (o.command !== undefined && o.command.trim() === '') return 'invalid command: empty';
    if (o.percpu && (o.pid !== undefined || o.command !== undefined)) return '--percpu traces kernel allocations: not with -p or -c';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals, untilExit }) {
    const interval = positionalChecks.interval(opts.interval) ?? 5;
    const count = positionalChecks.count(opts.count) ?? 99999999;
    const kernelMode = opts.pid === undefined && opts.command === undefined;
    let held: { child: ChildProcess; go(): void } | undefined;
    if (opts.command !== undefined) {
      (json ? process.stderr : out).write(`Executing '${opts.command}' and tracing the resulting process.\n`);
      out.flush();
      held = startHeldCommand(opts.command, json ? 'stderr' : 'inherit');
    }
    const pid = opts.pid ?? held?.child.pid;
    // one function under two names (glibc's aligned_alloc is memalign): probed once, so counted once
    const userFunctions: typeof USER_FUNCTIONS = [];
    if (!kernelMode) {
      const object = resolveLibrary(opts.obj, pid);
      const probed = new Set<bigint>();
      for (const f of USER_FUNCTIONS) {
        const address = functionAddress(object, (opts.symbolsPrefix ?? '') + f.name);
        if (address !== undefined && probed.has(address)) continue;
        if (address !== undefined) probed.add(address);
        userFunctions.push(f);
      }
    }
    const unprobed = USER_PROGRAMS.filter(p => !userFunctions.some(f => p === `${f.name}_enter` || p === `${f.name}_exit`));
    const bpf = load({
      rodata: {
        targ_tgid: pid ?? 0, min_size: BigInt(opts.minSize ?? 0), max_size: opts.maxSize !== undefined ? BigInt(opts.maxSize) : 0xffffffffffffffffn,
        sample_every_n: BigInt(opts.sampleRate), trace_all: opts.trace, wa_missing_free: opts.waMissingFree, user_stacks: !kernelMode,
        after_exec: !!held,
      },
      disable: kernelMode ? [...USER_PROGRAMS, EXEC_PROGRAM, ...(opts.percpu ? KMEM_PROGRAMS : PERCPU_PROGRAMS)]
        : [...unprobed, ...KMEM_PROGRAMS, ...PERCPU_PROGRAMS, ...(held ? [] : [EXEC_PROGRAM])],
    });
    bpf.attachAll();
    if (!kernelMode) {
      for (const f of userFunctions) {
        const symbol = (opts.symbolsPrefix ?? '') + f.name;
        try {
          bpf.attachUprobe(`${f.name}_enter`, { binary: opts.obj, symbol, pid });
          if (!f.noReturn) bpf.attachUprobe(`${f.name}_exit`, { binary: opts.obj, symbol, pid, retprobe: true });
        } catch (e) {
          if (!f.canFail) {
            held?.child.kill('SIGKILL');
            throw e;
          }
        }
      }
    }
    const attachedText = kernelMode ? 'Attaching to kernel allocators, Ctrl+C to quit.' : `Attaching to pid ${pid}, Ctrl+C to quit.`;
    banner(attachedText);

    // user frames are named through the process's mappings, re-read while it runs (it may exit before a print)
    const symbols = kernelMode ? undefined : new ProcessSymbols(pid!);
    const refresher = symbols && setInterval(() => symbols.refresh(), 500);
    refresher?.unref();
    let kernelSymbols: KernelSymbols | undefined;
    /** BCC's frames: "0x<address>\tname+0x1a [module]" (--combined-only: without the address); JSON's: names only. */
    const frames = (stackId: number, namesOnly = false): string[] => {
      if (stackId < 0) return [];
      const ips = bpf.stackIps('stack_traces', stackId);
      kernelSymbols ??= kernelMode ? KernelSymbols.load() : undefined;
      const format = namesOnly ? {} : { showOffset: true, showModule: true };
      const named = ips.map(ip => ({ ip, name: frameText(ip, kernelSymbols, symbols, format) }));
      // a kernel stack taken in a tracepoint program starts in the program and the tracing code
      let skip = 0;
      while (kernelMode && skip < named.length && isProbeFrame(named[skip].name)) skip++;
      return named.slice(skip).map(f => (opts.combinedOnly || namesOnly ? f.name : `0x${f.ip.toString(16).padStart(16, '0')}\t${f.name}`));
    };

    if (opts.trace) {
      const what = ['alloc entered, size = %d', 'alloc exited, size = %d, result = %x', 'free entered, address = %x, size = %d'];
      bpf.events<TraceEvent>('trace_events', 'call_event', e => {
        if (json) {
          emit.event({ comm: e.comm, pid: e.pid, call: ['alloc_enter', 'alloc_exit', 'free'][e.what], size: e.size, address: e.what === 0 ? null : `0x${e.addr.toString(16)}` });
          return;
        }
        const text = e.what === 2 ? sprintf(what[2], e.addr, e.size) : sprintf(what[e.what], e.size, e.addr);
        out.line(sprintf('%-16s %-7d %s', e.comm, e.pid, text));
      });
    }

    const minAgeNs = BigInt(opts.older) * 1_000_000n;
    const bySize = opts.sort === 'size';
    /** The stacks with outstanding allocations, largest (size or count) last, at most -T of them. */
    const outstanding = (): { stacks: Outstanding[]; allocs: [bigint, AllocInfo][] } => {
      if (opts.combinedOnly) {
        const stacks = bpf.map<bigint, CombinedInfo>('combined_allocs').entries()
          .map(([id, c]) => ({ stackId: Number(BigInt.asIntN(32, id)), bytes: Number(c.total_size), allocations: Number(c.number_of_allocs) }));
        return { stacks: pickTop(stacks), allocs: [] };
      }
      const now = process.hrtime.bigint();
      const byStack = new Map<number, Outstanding>();
      const shown: [bigint, AllocInfo][] = [];
      const all = bpf.map<bigint, AllocInfo>('allocs').entries().sort((a, b) => Number(a[1].size - b[1].size));
      for (const [address, info] of all) {
        if (now - minAgeNs < info.timestamp_ns || info.stack_id < 0) continue;
        const s = byStack.get(info.stack_id);
        if (s) {
          s.bytes += Number(info.size);
          s.allocations++;
        } else {
          byStack.set(info.stack_id, { stackId: info.stack_id, bytes: Number(info.size), allocations: 1 });
        }
        shown.push([address, info]);
      }
      return { stacks: pickTop([...byStack.values()]), allocs: shown };
    };
    const pickTop = (stacks: Outstanding[]) => stacks.sort((a, b) => (bySize ? a.bytes - b.bytes : a.allocations - b.allocations)).slice(-opts.top);

    const print = (seconds: number) => {
      const { stacks, allocs } = outstanding();
      if (json) {
        emit.stacks(seconds, 'bytes', [...stacks].reverse().map(s => ({
          pid: pid ?? 0, comm: '', [kernelMode ? 'kernel_stack' : 'user_stack']: frames(s.stackId, true),
          allocations: s.allocations, bytes: s.bytes,
        })), { missed_stacks: 0, ...(opts.showAllocs ? { allocs: allocs.map(([a, i]) => ({ address: `0x${a.toString(16)}`, size: Number(i.size) })) } : {}) });
        return;
      }
      out.line(`[${strftimeHMS()}] Top ${opts.top} stacks with outstanding allocations:`);
      if (opts.showAllocs) for (const [address, info] of allocs) out.line(`\taddr = ${address.toString(16)} size = ${info.size}`);
      for (const s of stacks) out.line(`\t${s.bytes} bytes in ${s.allocations} allocations from stack\n\t\t${frames(s.stackId).join('\n\t\t')}`);
    };

    if (opts.trace) {
      // BCC's -t prints the calls only, until Ctrl-C (or the command's end)
      held?.child.on('exit', () => process.kill(process.pid, 'SIGINT'));
      held?.go();
      await untilExit();
      return;
    }
    // -c: the command's end is the last print
    let commandEnded = false;
    held?.child.on('exit', () => {
      commandEnded = true;
      process.kill(process.pid, 'SIGINT');
    });
    held?.go();
    await intervals(interval, count, (last, seconds) => {
      print(seconds);
      if (last && commandEnded) process.stderr.write(`memleak: command '${opts.command}' exited\n`);
    });
  },
});

