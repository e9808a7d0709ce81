// bench/stacks: reading and symbolising 10,000 distinct stacks (the target: at most 1 s). A C program
// reaches getppid() through 2^14 different call paths (14 levels of left()/right(), frame pointers
// kept); a tracepoint program counts (pid, user stack, kernel stack, comm) as profile and offcputime
// do; then lib/stacks reads the stack map and symbolises user and kernel frames of 10,000 of them.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BPF } from '../lib/bpf.js';
import { StackReader, type StackSample } from '../lib/stacks/index.js';
import { KernelSymbols } from '../lib/syms/index.js';

const WANTED = 10_000;

const program = `
#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
struct key_t { u32 pid; int user_stack_id; int kernel_stack_id; char name[16]; };
BPF_HASH(counts, struct key_t, u64, 32768);
BPF_STACK_TRACE(stack_traces, 131072); /* room enough that few of 16384 stacks collide in its hash */
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) != targ_tgid)
		return 0;
	struct key_t key = { .pid = id >> 32 };
	bpf_get_current_comm(&key.name, sizeof(key.name));
	key.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	key.kernel_stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	map_increment(counts, key);
	return 0;
}
`;

const generatorC = `
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#define LEVELS 14
static volatile long sink;
__attribute__((noinline)) void left(unsigned path, int level);
__attribute__((noinline)) void right(unsigned path, int level);
/* each level calls left() or right() by one bit of path: 2^LEVELS distinct stacks */
static void next(unsigned path, int level)
{
	if (level == LEVELS) {
		sink += syscall(SYS_getppid);
		return;
	}
	if (path >> level & 1)
		right(path, level + 1);
	else
		left(path, level + 1);
}
__attribute__((noinline)) void left(unsigned path, int level) { next(path, level); sink++; }
__attribute__((noinline)) void right(unsigned path, int level) { next(path, level); sink--; }
int main(void)
{
	getchar(); /* start when told: the tracer attaches first */
	for (unsigned p = 0; p < 1u << LEVELS; p++)
		left(p, 0);
	printf("done\\n");
	fflush(stdout);
	getchar(); /* stay alive until the stacks are read */
	return 0;
}
`;

export interface StacksResult {
  distinct: number; symbolised: number; frames: number;
  /** Wall time of the whole read (counts map, stacks, symbols), and of the counts map alone. */
  ms: number; countsMs: number;
  /** CPU time the process spent in it (user + system): what load on the machine does not inflate. */
  cpuMs: number;
  /** The 1-minute load average when it ran. */
  load: number;
}

export async function stacksBench(): Promise<StacksResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-'));
  const gen = path.join(dir, 'paths');
  fs.writeFileSync(`${gen}.c`, generatorC);
  const cc = spawnSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-o', gen, `${gen}.c`], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
  const child = spawn(gen, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', d => (out += d));
  const bpf = BPF.load({ text: program, name: 'stackbench', rodata: { targ_tgid: child.pid } });
  try {
    bpf.attachAll();
    const reader = new StackReader(bpf); // made at attach, as the tools make it (it reads kallsyms meanwhile)
    child.stdin.write('g'); // one character: the second getchar() waits for the end
    while (!out.includes('done')) await new Promise(r => setTimeout(r, 20));
    await KernelSymbols.loadAsync(); // started by the reader: a real run samples for longer than that read
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const entries = bpf.map<{ pid: number; user_stack_id: number; kernel_stack_id: number; name: string }, bigint>('counts').entries();
    const samples: StackSample[] = entries.filter(([k]) => k.user_stack_id >= 0).slice(0, WANTED).map(([k, v]) => ({
      pid: k.pid, tgid: k.pid, comm: k.name, userStackId: k.user_stack_id, kernelStackId: k.kernel_stack_id, value: Number(v),
    }));
    const t1 = process.hrtime.bigint();
    const stacks = reader.read(samples);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const countsMs = Number(t1 - t0) / 1e6;
    const frames = stacks.reduce((a, s) => a + (s.user?.length ?? 0) + (s.kernel?.length ?? 0), 0);
    const named = stacks.filter(s => s.user?.filter(f => f === 'left' || f === 'right').length === 15).length;
    return {
      distinct: new Set(samples.map(s => s.userStackId)).size, symbolised: named, frames, ms, countsMs,
      cpuMs: (cpu.user + cpu.system) / 1000, load: os.loadavg()[0],
    };
  } finally {
    bpf.close();
    child.stdin.end('\n');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await stacksBench();
  process.stdout.write(`stacks: ${r.distinct} distinct user stacks (+ kernel stacks) read and symbolised in ${r.ms.toFixed(0)} ms ` +
    `(${r.cpuMs.toFixed(0)} ms of CPU; the counts map ${r.countsMs.toFixed(0)} ms) at load average ${r.load.toFixed(1)} ` +
    `(${r.frames} frames; ${r.symbolised} with all 15 left()/right() frames named); target at most 1000 ms for ${WANTED}: ${r.ms <= 1000 && r.distinct >= WANTED ? 'met' : 'NOT met'}\n`);
}
