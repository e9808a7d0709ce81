#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// ffaults: page faults counted by the file they fault in: the book's ffaults.bt (chapter 7), which
// reads the faulting area's file at a kprobe on handle_mm_fault. This kernel has no kprobes: at the
// x86 exceptions:page_fault_user and page_fault_kernel tracepoints the faulting address's area is
// looked up (bpf_find_vma) and its file's path read from its dentries (bpfkit_path.h). Faults in
// anonymous memory are not counted (they have no file), as in the book's tool.
import { defineTool, durationSeconds, opt } from '../../lib/cli/index.js';
import { bpfPath, type BpfPath } from '../../lib/host/paths.js';
import { printCountMap } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_path.h>

const volatile u32 targ_tgid = 0;

struct file_key { u64 ino; u32 dev; u32 pad; };

BPF_HASH(counts, struct file_key, u64, 10240);
BPF_TABLE_FLAGS(BPF_MAP_TYPE_HASH, struct file_key, struct bpfkit_path, names, 10240, BPF_F_NO_PREALLOC);
BPF_PERCPU_ARRAY(scratch, struct bpfkit_path, 1);

static __always_inline int on_fault(u64 address)
{
	u32 tgid = bpfkit_tgid();
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	struct file *file = bpfkit_mapped_file(address);
	if (!file)
		return 0;
	struct file_key key = { .ino = BPF_CORE_READ(file, f_inode, i_ino), .dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev) };
	u64 one = 1, *n = bpf_map_lookup_elem(&counts, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	u32 zero = 0;
	struct bpfkit_path *path = bpf_map_lookup_elem(&scratch, &zero);
	if (!path)
		return 0;
	bpfkit_file_path(file, path);
	bpf_map_update_elem(&names, &key, path, BPF_NOEXIST);
	return 0;
}

TRACEPOINT_PROBE(exceptions, page_fault_user) { return on_fault(args->address); }
/* the kernel touching user memory for a syscall (read() into a mapped file) */
TRACEPOINT_PROBE(exceptions, page_fault_kernel) { return on_fault(args->address); }
`;

interface Options { pid?: number; duration?: string }
interface FileKey { ino: bigint; dev: number }

defineTool<Options>({
  name: 'ffaults',
  subsystem: 'mem',
  description: 'Count page faults by the file they fault in',
  ports: { book: 'chapter 7, Memory (ffaults.bt)' },
  probes: { tracepoint: ['exceptions/page_fault_user', 'exceptions/page_fault_kernel'] },
  output: 'counts',
  // (two copies at once, as the catalogue tests may run them, miss faults: bpf_find_vma is busy in the other)
  invocations: [{ args: ['1'], ends: 'itself', quiet: 'a second copy running at once sees fewer faults' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['file', 'faults'] }),
  program,
  options: { pid: opt.pid() },
  positional: '[duration]',
  examples: [
    ['ffaults', 'count page faults by file until Ctrl-C'],
    ['ffaults 10', 'for 10 seconds only'],
    ['ffaults -p 185', 'only PID 185'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    process.stderr.write('ffaults: counted at exceptions:page_fault_user/kernel with bpf_find_vma: this kernel has no kprobes or fentry for handle_mm_fault\n');
    const duration = durationSeconds(opts.duration);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    const started = Date.now();
    banner(`Tracing page faults by file${duration ? ` for ${duration} secs` : ''}... Hit Ctrl-C to end.`);
    await untilExit(duration);
    const names = new Map(bpf.map<FileKey, BpfPath>('names').entries().map(([k, p]) => [`${k.dev}:${k.ino}`, bpfPath(p)]));
    const rows = bpf.map<FileKey, bigint>('counts').entries()
      .map(([k, n]) => ({ file: names.get(`${k.dev}:${k.ino}`) ?? `[inode ${k.ino} of device ${k.dev}]`, faults: Number(n) }));
    printCountMap(rows, 'faults', r => String(r.file), { out, json, emit, seconds: (Date.now() - started) / 1000 });
  },
});
