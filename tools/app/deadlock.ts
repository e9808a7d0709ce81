#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// deadlock: potential deadlocks in a running process, as lock-order inversions (BCC's deadlock).
// Uprobes on pthread_mutex_lock/unlock keep, per thread, the mutexes it holds; taking mutex B while
// holding A adds the edge A -> B (with both stacks) to a graph, and a cycle in it is a lock order two
// threads could deadlock on, even if this run did not. Where a thread came from: BCC's kretprobe on
// clone; here the clone/clone3 syscalls' exit tracepoints (this kernel has no kprobes).
import fs from 'node:fs';
import { defineTool, positiveInt, ToolError, UsageError } from '../../lib/cli/index.js';
import { demangle, functionOffset, ProcessSymbols } from '../../lib/syms/index.js';

const program = `
#include <bpfkit.h>

#define MAX_HELD_MUTEXES 16

const volatile u32 targ_pid = 0;

struct held_mutex { u64 mutex; s64 stack_id; u64 caller; };
struct held_mutexes { struct held_mutex held[MAX_HELD_MUTEXES]; };
struct edge_key { u64 mutex1; u64 mutex2; };
struct edge {
	s64 mutex1_stack_id;
	s64 mutex2_stack_id;
	u64 mutex1_caller;   /* at the lock's entry the stack walk skips the caller: kept apart */
	u64 mutex2_caller;
	u32 thread_pid;
	char comm[16];
};
struct thread_created { s64 stack_id; u32 parent_pid; char comm[16]; };

BPF_HASH(thread_to_held_mutexes, u32, struct held_mutexes, 65536);
BPF_HASH(edges, struct edge_key, struct edge, 65536);
BPF_HASH(thread_to_parent, u32, struct thread_created, 65536);
BPF_STACK_TRACE(stack_traces, 65536);

static const struct held_mutexes none_held = {};

SEC("uprobe")
int BPF_KPROBE(trace_mutex_acquire, void *mutex_addr)
{
	u32 tid = bpfkit_tid();
	u64 mutex = (u64)mutex_addr;
	struct held_mutexes *h = map_lookup_or_try_init(thread_to_held_mutexes, &tid, &none_held);
	if (!h)
		return 0;
	for (int i = 0; i < MAX_HELD_MUTEXES; i++)
		if (h->held[i].mutex == mutex)
			return 0;   /* no self edges (a recursive mutex taken again) */
	s64 stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	u64 caller = 0;
	bpf_probe_read_user(&caller, sizeof(caller), (void *)PT_REGS_SP(ctx));
	bool added = false;
	for (int i = 0; i < MAX_HELD_MUTEXES; i++) {
		if (!h->held[i].mutex) {
			if (!added) {
				h->held[i].mutex = mutex;
				h->held[i].stack_id = stack_id;
				h->held[i].caller = caller;
				added = true;
			}
			continue;
		}
		struct edge_key k = { .mutex1 = h->held[i].mutex, .mutex2 = mutex };
		struct edge e = {
			.mutex1_stack_id = h->held[i].stack_id, .mutex2_stack_id = stack_id,
			.mutex1_caller = h->held[i].caller, .mutex2_caller = caller, .thread_pid = tid,
		};
		bpf_get_current_comm(&e.comm, sizeof(e.comm));
		bpf_map_update_elem(&edges, &k, &e, BPF_ANY);
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(trace_mutex_release, void *mutex_addr)
{
	u32 tid = bpfkit_tid();
	struct held_mutexes *h = bpf_map_lookup_elem(&thread_to_held_mutexes, &tid);
	if (!h)
		return 0;
	for (int i = 0; i < MAX_HELD_MUTEXES; i++) {
		if (h->held[i].mutex == (u64)mutex_addr) {
			h->held[i].mutex = 0;
			h->held[i].stack_id = 0;
			h->held[i].caller = 0;
		}
	}
	return 0;
}

static __always_inline int thread_created(void *ctx, long ret)
{
	if (ret <= 0 || bpfkit_tgid() != targ_pid)
		return 0;   /* the child (0), a failure, or another process */
	u32 child = ret;
	struct thread_created t = { .parent_pid = bpfkit_tid() };
	t.stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	bpf_get_current_comm(&t.comm, sizeof(t.comm));
	bpf_map_update_elem(&thread_to_parent, &child, &t, BPF_NOEXIST);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_clone)
{
	return thread_created(args, args->ret);
}

TRACEPOINT_PROBE(syscalls, sys_exit_clone3)
{
	return thread_created(args, args->ret);
}
`;

interface Options {
  pid: string; binary?: string; dumpGraph?: string; verbose: boolean; lockSymbols: string; unlockSymbols: string;
  threads: number; edges: number; stacktraces: number;
}
interface EdgeKey { mutex1: bigint; mutex2: bigint }
interface Edge { mutex1_stack_id: bigint; mutex2_stack_id: bigint; mutex1_caller: bigint; mutex2_caller: bigint; thread_pid: number; comm: string }
interface ThreadCreated { stack_id: bigint; parent_pid: number; comm: string }

/** The first cycle of the graph (nodes in ascending address order tried first), as its edges; [] if none. */
export function findCycle(graph: Map<bigint, bigint[]>): [bigint, bigint][] {
  const state = new Map<bigint, 'open' | 'done'>();
  const path: bigint[] = [];
  const visit = (n: bigint): bigint[] | undefined => {
    state.set(n, 'open');
    path.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') return path.slice(path.indexOf(m));
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...graph.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (state.has(n)) continue;
    const cycle = visit(n);
    if (cycle) return cycle.map((m, i) => [m, cycle[(i + 1) % cycle.length]]);
  }
  return [];
}

const symbols = (v: string) => v.split(',').map(s => s.trim()).filter(Boolean);

defineTool<Options>({
  name: 'deadlock',
  subsystem: 'app',
  description: 'Detect potential deadlocks (lock order inversions) in a running process',
  ports: { bcc: 'tools/deadlock.py' },
  probes: { uprobe: ['c:pthread_mutex_lock', 'c:pthread_mutex_unlock'], tracepoint: ['syscalls/sys_exit_clone', 'syscalls/sys_exit_clone3'] },
  output: 'event',
  invocations: [{ args: ['1', '--verbose'], ends: 'ctrl-c' }],
  program,
  options: {
    binary: { type: 'string', describe: 'if set, trace the mutexes from the binary at this path (default: the libc the process uses)' },
    dumpGraph: { type: 'string', describe: 'if set, this will dump the mutex graph to the specified file' },
    verbose: { type: 'boolean', default: false, describe: 'print statistics about the mutex wait graph' },
    lockSymbols: { type: 'string', default: 'pthread_mutex_lock', describe: 'comma-separated list of lock symbols to trace' },
    unlockSymbols: { type: 'string', default: 'pthread_mutex_unlock', describe: 'comma-separated list of unlock symbols to trace' },
    threads: { alias: 't', type: 'string', default: 65536, coerce: positiveInt('threads'), describe: 'the maximum number of threads to trace' },
    edges: { alias: 'e', type: 'string', default: 65536, coerce: positiveInt('edges'), describe: 'the maximum number of edge cases that can be recorded' },
    stacktraces: { alias: 's', type: 'string', default: 65536, coerce: positiveInt('stacktraces'), describe: 'the maximum number of stack traces that can be recorded' },
  },
  positional: '<pid>',
  examples: [
    ['deadlock 181', 'analyze PID 181'],
    ['deadlock 181 --binary /lib/x86_64-linux-gnu/libc.so.6', 'analyze PID 181, tracing the mutexes of this libc'],
    ['deadlock 181 --verbose', 'analyze PID 181 and print statistics about the mutex wait graph'],
    ['deadlock 181 --lock-symbols my_mutex_lock1,my_mutex_lock2 --unlock-symbols my_mutex_unlock1,my_mutex_unlock2', 'analyze PID 181 with custom mutexes'],
    ['deadlock 181 --dump-graph graph.json', 'analyze PID 181 and dump the mutex wait graph to graph.json'],
  ],
  validate(o) {
    if (o.pid === undefined) return 'the PID to trace is required';
    if (!/^[1-9]\d*$/.test(String(o.pid)) || !fs.existsSync(`/proc/${o.pid}`)) return `no such process: ${o.pid}`;
    if (o.binary !== undefined && !fs.existsSync(o.binary)) return `no such binary: ${o.binary}`;
    if (!symbols(o.lockSymbols).length || !symbols(o.unlockSymbols).length) return 'lock and unlock symbols may not be empty';
    return undefined;
  },

  async run(ctx) {
    const { opts, load, out, json, emit } = ctx;
    const pid = Number(opts.pid);
    const bpf = load({
      rodata: { targ_pid: pid },
      maxEntries: { thread_to_held_mutexes: opts.threads, edges: opts.edges, stack_traces: opts.stacktraces },
    });
    bpf.attachAll();
    const at = (symbol: string) => {
      try {
        return { ...functionOffset(opts.binary ?? 'c', symbol, pid), pid };
      } catch (e) {
        throw new UsageError(`${(e as Error).message}: is --binary missing?`);
      }
    };
    // unlock first, as BCC: a lock seen whose unlock is not would leave a mutex held forever
    for (const s of symbols(opts.unlockSymbols)) bpf.attachUprobe('trace_mutex_release', at(s));
    for (const s of symbols(opts.lockSymbols)) bpf.attachUprobe('trace_mutex_acquire', at(s));
    process.stderr.write('deadlock: thread creation seen at syscalls:sys_exit_clone/clone3: this kernel has no kprobes\n');
    (json ? process.stderr : out).write('Tracing... Hit Ctrl-C to end.\n');
    out.flush();

    const syms = ProcessSymbols.forPid(pid);
    const frames = (stackId: bigint, caller: bigint): bigint[] => {
      // a walk through code without frame pointers (libc's clone3) may repeat one address: once is enough
      const ips = bpf.stackIps('stack_traces', Number(stackId)).filter((ip, i, all) => i === 0 || ip !== all[i - 1]);
      // put back the caller an entry probe's walk skips (when the stack does not have it already)
      return caller && ips.length > 0 && ips[1] !== caller ? [ips[0], caller, ...ips.slice(1)] : ips;
    };
    const symbol = (ip: bigint) => {
      const s = syms.resolve(ip);
      return s ? demangle(s.name) : '[unknown]';
    };
    const stackText = (ips: bigint[]) => ips.map(ip => `@ ${ip.toString(16).padStart(16, '0')} ${symbol(ip)}\n`).join('');

    const interrupted = ctx.untilExit();
    for (;;) {
      const edges = bpf.map<EdgeKey, Edge>('edges').entries();
      const graph = new Map<bigint, bigint[]>();
      const attrs = new Map<string, Edge>();
      for (const [k, e] of edges) {
        if (!graph.has(k.mutex1)) graph.set(k.mutex1, []);
        if (!graph.has(k.mutex2)) graph.set(k.mutex2, []);
        graph.get(k.mutex1)!.push(k.mutex2);
        attrs.set(`${k.mutex1}:${k.mutex2}`, e);
      }
      if (opts.verbose) {
        if (json) emit.event({ pid, mutexes: graph.size, edges: edges.length });
        else out.line(`Mutexes: ${graph.size}, Edges: ${edges.length}`);
      }
      if (opts.dumpGraph) {
        const nodes = [...graph.keys()];
        const links = edges.map(([k, e]) => ({
          source: nodes.indexOf(k.mutex1), target: nodes.indexOf(k.mutex2), thread_pid: e.thread_pid, thread_comm: e.comm,
          first_mutex_stack_id: Number(e.mutex1_stack_id), second_mutex_stack_id: Number(e.mutex2_stack_id),
        }));
        fs.writeFileSync(opts.dumpGraph, JSON.stringify({ directed: true, multigraph: false, graph: {}, links, nodes: nodes.map(n => ({ id: Number(n) })) }, null, 2));
      }
      const cycle = findCycle(graph);
      if (cycle.length) {
        const names = new Map(cycle.map(([m], i) => [m, `Mutex M${i} (0x${m.toString(16).padStart(16, '0')})`]));
        const threads = new Map<number, string>();
        const parents = new Map(bpf.map<number, ThreadCreated>('thread_to_parent').entries());
        if (json) {
          emit.event({
            pid, cycle: cycle.map(([m]) => `0x${m.toString(16)}`),
            edges: cycle.map(([m, n]) => {
              const e = attrs.get(`${m}:${n}`)!;
              return { held: `0x${m.toString(16)}`, acquired: `0x${n.toString(16)}`, thread_pid: e.thread_pid, thread_comm: e.comm,
                held_stack: frames(e.mutex1_stack_id, e.mutex1_caller).map(symbol), acquired_stack: frames(e.mutex2_stack_id, e.mutex2_caller).map(symbol) };
            }),
          });
          return;
        }
        out.write('----------------\nPotential Deadlock Detected!\n\n');
        out.write(`Cycle in lock order graph: ${[...cycle.map(([m]) => names.get(m)), names.get(cycle[0][0])].join(' => ')}\n\n`);
        for (const [m, n] of cycle) {
          const e = attrs.get(`${m}:${n}`)!;
          threads.set(e.thread_pid, e.comm);
          out.write(`${names.get(n)} acquired here while holding ${names.get(m)} in Thread ${e.thread_pid} (${e.comm}):\n`);
          out.write(stackText(frames(e.mutex2_stack_id, e.mutex2_caller)) + '\n');
          out.write(`${names.get(m)} previously acquired by the same Thread ${e.thread_pid} (${e.comm}) here:\n`);
          out.write(stackText(frames(e.mutex1_stack_id, e.mutex1_caller)) + '\n');
        }
        for (const tid of threads.keys()) {
          const p = parents.get(tid);
          if (p) out.write(`Thread ${tid} created by Thread ${p.parent_pid} (${p.comm}) here: \n${stackText(frames(p.stack_id, 0n))}\n`);
          else out.write(`Could not find stack trace where Thread ${tid} was created\n\n`);
        }
        return;
      }
      // BCC looks again each second, until Ctrl-C
      await Promise.race([interrupted, new Promise(r => setTimeout(r, 1000))]);
      if (ctx.exiting) return;
      if (!fs.existsSync(`/proc/${pid}`)) throw new ToolError(`process ${pid} exited`);
    }
  },
});
