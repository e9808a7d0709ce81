#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// hfaults: huge page faults counted by process: the book's hfaults.bt (chapter 7), a kprobe on
// hugetlb_fault(). This kernel has no kprobes: at the x86 exceptions:page_fault_user and
// page_fault_kernel tracepoints the faulting address's area is looked up (bpf_find_vma) and the fault
// counted when the area is hugetlb (VM_HUGETLB), which is when handle_mm_fault() calls hugetlb_fault().
// Transparent huge pages are not hugetlb: their faults are not counted, as in the book's tool.
import { defineTool, durationSeconds, opt } from '../../lib/cli/index.js';
import { printCountMap } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

#define VM_HUGETLB 0x00400000

const volatile u32 targ_tgid = 0;

struct key_t { u32 pid; char comm[TASK_COMM_LEN]; };

BPF_HASH(counts, struct key_t, u64, 10240);

static long vma_flags(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	*(u64 *)ctx = BPF_CORE_READ(vma, vm_flags);
	return 0;
}

static __always_inline int on_fault(u64 address)
{
	struct key_t key = { .pid = bpfkit_tgid() };
	u64 flags = 0;
	if (targ_tgid && key.pid != targ_tgid)
		return 0;
	bpf_find_vma(bpf_get_current_task_btf(), address, vma_flags, &flags, 0);
	if (!(flags & VM_HUGETLB))
		return 0;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	map_increment(counts, key);
	return 0;
}

TRACEPOINT_PROBE(exceptions, page_fault_user) { return on_fault(args->address); }
TRACEPOINT_PROBE(exceptions, page_fault_kernel) { return on_fault(args->address); }
`;

interface Options { pid?: number; duration?: string }
interface Key { pid: number; comm: string }

defineTool<Options>({
  name: 'hfaults',
  subsystem: 'mem',
  description: 'Count huge page (hugetlb) faults by process',
  ports: { book: 'chapter 7, Memory (hfaults.bt)' },
  probes: { tracepoint: ['exceptions/page_fault_user', 'exceptions/page_fault_kernel'] },
  output: 'counts',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['pid', 'comm', 'faults'] }),
  program,
  options: { pid: opt.pid() },
  positional: '[duration]',
  examples: [
    ['hfaults', 'count huge page faults by process until Ctrl-C'],
    ['hfaults 10', 'for 10 seconds only'],
    ['hfaults -p 185', 'only PID 185'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    process.stderr.write('hfaults: counted at exceptions:page_fault_user/kernel in VM_HUGETLB areas (bpf_find_vma): this kernel has no kprobes or fentry for hugetlb_fault\n');
    const duration = durationSeconds(opts.duration);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    const started = Date.now();
    banner(`Tracing Huge Page faults${duration ? ` for ${duration} secs` : ''}... Hit Ctrl-C to end.`);
    await untilExit(duration);
    const rows = bpf.map<Key, bigint>('counts').entries().map(([k, n]) => ({ pid: k.pid, comm: k.comm, faults: Number(n) }));
    printCountMap(rows, 'faults', r => `${r.pid}, ${r.comm}`, { out, json, emit, seconds: (Date.now() - started) / 1000 });
  },
});
