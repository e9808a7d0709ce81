#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// profile: samples stack traces at a timed interval and counts them in the kernel (BCC's profile), on
// the cpu-clock software event (BCC tries cpu-cycles first; without a hardware PMU it ends up here).
// Prints BCC's multi-line stacks, its folded format (-f), stacks records, or a flame graph.
import { onlineCpus } from '../../lib/bpf.js';
import { defineTool, durationSeconds, nonNegativeInt, opt, positiveInt } from '../../lib/cli/index.js';
import { printStacks, StackReader, type StackSample } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit.h>

enum { FILTER_NONE, FILTER_TGID, FILTER_TID };

const volatile u32 targ_filter = FILTER_NONE;   /* -p: by process, -L: by thread, in targets */
const volatile bool targ_idle = false;          /* -I: also the idle task */
const volatile bool targ_user = true;           /* not -K */
const volatile bool targ_kernel = true;         /* not -U */

struct key_t {
	u32 pid;
	u32 __pad;   /* a hash key has no unnamed padding: its bytes are compared */
	u64 kernel_ip;
	int user_stack_id;
	int kernel_stack_id;
	char name[16];
};

BPF_HASH(targets, u32, u8, 64);
BPF_HASH(counts, struct key_t, u64, 40960);
BPF_STACK_TRACE(stack_traces, 16384);
/* the processes sampled, so their mappings are read while they live (cheaper to scan than counts) */
BPF_LRU_HASH(sampled_tgids, u32, u8, 4096);

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32, tid = (u32)id;
	if (!targ_idle && tid == 0)
		return 0;
	if (targ_filter != FILTER_NONE) {
		u32 which = targ_filter == FILTER_TGID ? tgid : tid;
		if (!bpf_map_lookup_elem(&targets, &which))
			return 0;
	}
	if (targ_user && !bpf_map_lookup_elem(&sampled_tgids, &tgid)) {
		u8 one = 1;
		bpf_map_update_elem(&sampled_tgids, &tgid, &one, BPF_ANY);
	}
	struct key_t key = { .pid = tgid };
	bpf_get_current_comm(&key.name, sizeof(key.name));
	key.user_stack_id = targ_user ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
	key.kernel_stack_id = targ_kernel ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	if (key.kernel_stack_id >= 0) {
		/* the sampled IP, when in the kernel (the top half of the address space) */
		u64 ip = PT_REGS_IP(&ctx->regs);
		if ((s64)ip < 0)
			key.kernel_ip = ip;
	}
	map_increment(counts, key);
	return 0;
}
`;

interface Options {
  pid?: number[];
  tid?: number[];
  userStacksOnly: boolean;
  kernelStacksOnly: boolean;
  frequency?: number;
  count?: number;
  delimited: boolean;
  annotations: boolean;
  includeIdle: boolean;
  folded: boolean;
  hashStorageSize: number;
  stackStorageSize: number;
  cpu?: number;
  address: boolean;
  flamegraph?: string;
  duration?: string;
}

interface Key { pid: number; kernel_ip: bigint; user_stack_id: number; kernel_stack_id: number; name: string }

defineTool<Options>({
  name: 'profile',
  subsystem: 'cpu',
  description: 'Profile CPU stack traces at a timed interval',
  ports: { bcc: 'tools/profile.py', 'libbpf-tools': 'libbpf-tools/profile.bpf.c' },
  probes: { perf_event: ['cpu-clock at 49 Hz (-F, -c) on every CPU (-C)'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-f', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    pid: opt.pids('profile processes with one or more comma-separated PIDs only'),
    tid: opt.tids('profile threads with one or more comma-separated TIDs only', 'L'),
    userStacksOnly: opt.flag('U', 'show stacks from user space only (no kernel space stacks)'),
    kernelStacksOnly: opt.flag('K', 'show stacks from kernel space only (no user space stacks)'),
    frequency: { alias: 'F', type: 'string', describe: 'sample frequency, Hertz', coerce: positiveInt('frequency') },
    count: { alias: 'c', type: 'string', describe: 'sample period, number of events', coerce: positiveInt('sample period') },
    delimited: opt.flag('d', 'insert delimiter between kernel/user stacks'),
    annotations: opt.flag('a', 'add _[k] annotations to kernel frames'),
    includeIdle: opt.flag('I', 'include CPU idle stacks'),
    folded: opt.flag('f', 'output folded format, one line per stack (for flame graphs)'),
    hashStorageSize: { type: 'string', default: 40960, describe: 'the number of hash keys that can be stored', coerce: positiveInt('hash storage size') },
    stackStorageSize: { type: 'string', default: 16384, describe: 'the number of unique stack traces that can be stored and displayed', coerce: positiveInt('stack storage size') },
    cpu: { alias: 'C', type: 'string', describe: 'cpu number to run profile on', coerce: nonNegativeInt('CPU') },
    address: opt.flag('A', 'show raw addresses'),
    flamegraph: { type: 'string', describe: 'also write the stacks as an interactive SVG flame graph to this file' },
  },
  positional: '[duration]',
  examples: [
    ['profile', 'profile stack traces at 49 Hertz until Ctrl-C'],
    ['profile -F 99', 'profile stack traces at 99 Hertz'],
    ['profile -c 1000000', 'profile stack traces every 1 in a million events'],
    ['profile 5', 'profile at 49 Hertz for 5 seconds only'],
    ['profile -f 5', 'output in folded format for flame graphs'],
    ['profile -p 185', 'only profile process with PID 185'],
    ['profile -L 185', 'only profile thread with TID 185'],
    ['profile -U', 'only show user space stacks (no kernel)'],
    ['profile -K', 'only show kernel space stacks (no user)'],
    ['profile --flamegraph cpu.svg 10', 'ten seconds of samples as a flame graph'],
  ],
  validate(o) {
    if (o.pid && o.tid) return 'use only one of -p and -L';
    if (o.userStacksOnly && o.kernelStacksOnly) return 'use only one of -U and -K';
    if (o.frequency && o.count) return 'use only one of -F and -c';
    if (o.cpu !== undefined && !onlineCpus().includes(o.cpu)) return `invalid CPU: ${o.cpu} (online: ${onlineCpus().join(',')})`;
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const targets = opts.pid ?? opts.tid ?? [];
    const bpf = load({
      rodata: { targ_filter: opts.pid ? 1 : opts.tid ? 2 : 0, targ_idle: opts.includeIdle, targ_user: !opts.kernelStacksOnly, targ_kernel: !opts.userStacksOnly },
      maxEntries: { counts: opts.hashStorageSize, stack_traces: opts.stackStorageSize },
    });
    for (const t of targets) bpf.map('targets').set(t, 1);
    const frequency = opts.count ? undefined : opts.frequency ?? 49;
    bpf.attachPerfEvent('do_perf_event', { type: 1, config: 0, ...(opts.count ? { period: opts.count } : { frequency }), ...(opts.cpu !== undefined ? { cpus: [opts.cpu] } : {}) });
    const started = Date.now();
    const reader = new StackReader(bpf, { user: !opts.kernelStacksOnly, kernel: !opts.userStacksOnly });
    reader.track('sampled_tgids');

    if (!opts.folded) {
      const sampling = frequency ? `${frequency} Hertz` : `every ${opts.count} events`;
      const threads = opts.pid ? `PID ${targets.join(',')}` : opts.tid ? `TID ${targets.join(',')}` : 'all threads';
      const stacks = opts.userStacksOnly ? 'user' : opts.kernelStacksOnly ? 'kernel' : 'user + kernel';
      const line = `Sampling at ${sampling} of ${threads} by ${stacks} stack${opts.cpu !== undefined ? ` on CPU#${opts.cpu}` : ''}` +
        (duration ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.');
      (json ? process.stderr : out).write(line + '\n');
    }
    await untilExit(duration);
    reader.stop();
    if (!opts.folded && !json) out.write('\n');

    const entries = bpf.map<Key, bigint>('counts').entries();
    const samples: StackSample[] = entries.map(([k, v]) => ({
      pid: k.pid, tgid: k.pid, comm: k.name, userStackId: k.user_stack_id, kernelStackId: k.kernel_stack_id,
      kernelIp: k.kernel_ip || undefined, value: Number(v),
    }));
    printStacks(reader, samples, out, {
      delimited: opts.delimited && !opts.userStacksOnly && !opts.kernelStacksOnly, annotations: opts.annotations,
      json: json ? { emit, seconds: (Date.now() - started) / 1000, valueField: 'samples' } : undefined,
      folded: opts.folded,
      text: { showOffset: true, showModule: true, showAddress: opts.address }, // BCC's ksym/sym(show_module, show_offset)
      flamegraph: opts.flamegraph ? { file: opts.flamegraph, title: 'CPU Flame Graph', countName: 'samples', palette: 'cpu' } : undefined,
    });
    if (entries.length >= opts.hashStorageSize) process.stderr.write('WARNING: hash table full. Consider increasing --hash-storage-size.\n');
  },
});
