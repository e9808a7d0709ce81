// The kprobe/fentry lane: runs inside Debian's 6.1 kernel (test/vm/run.sh boots it), where kprobes and
// BPF trampolines exist. Objects are compiled on the host first (`lane.js --precompile`): clang under
// software emulation is slow, and the compile cache is shared read-only with the guest.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BPF } from '../../lib/bpf.js';
import { resolveKernelFunction } from '../../lib/attach/kprobes.js';
import { compile } from '../../lib/compile/index.js';
import { featureProbeSource } from '../../lib/attach/features.js';

const reads = `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
BPF_ARRAY(stats, u64, 4);   /* 0: entries seen by kprobe/fentry, 1: bytes returned, 2: kprobe hits, 3: fentry hits */

static __always_inline bool ours(void) { return bpfkit_tgid() == targ_tgid; }
static __always_inline void add(u32 k, u64 n) { map_add(stats, k, n); }

SEC("kprobe/vfs_read") int BPF_KPROBE(read_kprobe) { if (ours()) { add(0, 1); add(2, 1); } return 0; }
SEC("kretprobe/vfs_read") int BPF_KRETPROBE(read_kretprobe, long ret) { if (ours() && ret > 0) add(1, ret); return 0; }
SEC("fentry/vfs_read") int BPF_PROG(read_fentry) { if (ours()) { add(0, 1); add(3, 1); } return 0; }
SEC("fexit/vfs_read") int BPF_PROG(read_fexit, struct file *f, char *buf, size_t count, loff_t *pos, long ret) {
	if (ours() && ret > 0) add(1, ret);
	return 0;
}
`;

const byHand = `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
BPF_HASH(calls, u64, u64, 1024);
SEC("kprobe") int BPF_KPROBE(any_entry) {
	if (bpfkit_tgid() != targ_tgid) return 0;
	u64 ip = PT_REGS_IP(ctx);
	map_increment(calls, ip);
	return 0;
}
`;

const programs: [string, string][] = [['lane_reads', reads], ['lane_byhand', byHand]];

if (process.argv.includes('--precompile')) {
  for (const [name, text] of programs) compile({ text, name: `${name}.bpf.c` });
  compile({ text: featureProbeSource, name: 'feature-probe.bpf.c' });
  process.exit(0);
}

const FILE_BLOCKS = 64;
const file = path.join(os.tmpdir(), 'bpfkit-lane.dat');
fs.writeFileSync(file, Buffer.alloc(FILE_BLOCKS * 4096, 7));

/** Starts a dd that waits for a newline before reading `file` in 4 KiB blocks (same PID after exec). */
function pausedDd() {
  const child = spawn('sh', ['-c', `read go; exec dd if=${file} of=/dev/null bs=4096 count=${FILE_BLOCKS} status=none`], { stdio: ['pipe', 'ignore', 'inherit'] });
  return { pid: child.pid!, run: () => new Promise(r => { child.on('exit', r); child.stdin!.end('\n'); }) };
}

async function readsSeen(opts: { disable?: string[] }) {
  const dd = pausedDd();
  const bpf = BPF.load({ text: reads, name: 'lane_reads', rodata: { targ_tgid: dd.pid }, ...opts });
  try {
    bpf.attachAll();
    await dd.run();
    const s = bpf.map('stats');
    const v = (k: number) => Number(s.get(k));
    return { entries: v(0), bytes: v(1), kprobe: v(2), fentry: v(3), loaded: [...bpf.programs.values()].filter(p => p.loaded).map(p => p.name).sort() };
  } finally {
    bpf.close();
  }
}

let passed = 0;
let failed = 0;
async function check(name: string, fn: () => Promise<void> | void) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${(e as Error).message}`);
  }
}
function expect(cond: boolean, what: string) {
  if (!cond) throw new Error(what);
}

console.log(`kernel ${os.release()}`);

await check('fentry/fexit are preferred over kprobe/kretprobe and see every read', async () => {
  const r = await readsSeen({});
  expect(JSON.stringify(r.loaded) === JSON.stringify(['read_fentry', 'read_fexit']), `loaded ${r.loaded}`);
  expect(r.fentry >= FILE_BLOCKS && r.kprobe === 0, `fentry ${r.fentry}, kprobe ${r.kprobe}`);
  expect(r.bytes >= FILE_BLOCKS * 4096, `bytes ${r.bytes}`);
});

await check('kprobe/kretprobe take over when fentry/fexit are unavailable', async () => {
  const r = await readsSeen({ disable: ['read_fentry', 'read_fexit'] });
  expect(JSON.stringify(r.loaded) === JSON.stringify(['read_kprobe', 'read_kretprobe']), `loaded ${r.loaded}`);
  expect(r.kprobe >= FILE_BLOCKS && r.kprobe < FILE_BLOCKS + 32, `kprobe hits ${r.kprobe}`);
  expect(r.bytes >= FILE_BLOCKS * 4096 && r.bytes < FILE_BLOCKS * 4096 + 65536, `bytes ${r.bytes}`);
});

await check('syscall names resolve to this kernel\'s wrappers', () => {
  expect(resolveKernelFunction('sys_openat') === '__x64_sys_openat', resolveKernelFunction('sys_openat'));
  expect(resolveKernelFunction('openat') === '__x64_sys_openat', 'openat');
});

await check('kprobe by hand on a syscall wrapper, and a multi-function pattern', async () => {
  const dd = pausedDd();
  const bpf = BPF.load({ text: byHand, name: 'lane_byhand', rodata: { targ_tgid: dd.pid } });
  try {
    bpf.attachKprobe('any_entry', 'sys_openat');
    const fns = bpf.attachKprobeMulti('any_entry', 'vfs_rea*');
    expect(fns.includes('vfs_read') && fns.length > 1, `matched ${fns}`);
    await dd.run();
    const total = bpf.map('calls').values().reduce((a: number, b: bigint) => a + Number(b), 0);
    expect(total >= FILE_BLOCKS + 1, `calls ${total}`);
  } finally {
    bpf.close();
  }
});

await check('vfsstat (a tool with fentry and kprobe alternatives) reports VFS calls', () => {
  const launcher = path.join(process.cwd(), 'bin', 'bpfkit-node.mjs');
  const r = spawnSync(process.execPath, [launcher, 'tools/fs/vfsstat.ts', '1', '2'], { encoding: 'utf8', timeout: 120000 });
  expect(r.status === 0, `exit ${r.status}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  expect(/^TIME +READ\/s +WRITE\/s +FSYNC\/s +OPEN\/s +CREATE\/s$/.test(lines[0]), lines[0]);
  expect(lines.length === 3 && lines.slice(1).every(l => /^\d\d:\d\d:\d\d: +\d+ +\d+ +\d+ +\d+ +\d+$/.test(l)), r.stdout);
});

await check('nothing stays attached after close', () => {
  const r = spawnSync('sh', ['-c', 'cat /sys/kernel/tracing/kprobe_events; ls /sys/kernel/debug/tracing/events/kprobes 2>/dev/null | wc -l'], { encoding: 'utf8' });
  expect(!/vfs_read|openat/.test(r.stdout), r.stdout);
});

fs.rmSync(file, { force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
