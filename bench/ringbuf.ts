// bench/ringbuf: a tight getppid() storm traced by a ring-buffer program; prints events/s produced,
// consumed (decoded into objects) and lost. Then a warm start: a fresh node process from its first
// line to a cached object loaded and attached.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BPF } from '../lib/bpf.js';
import { projectRoot } from '../lib/compile/index.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);

const program = `
#include <bpfkit.h>
#define MAX_BURST 16
const volatile u32 targ_tgid = 0;
const volatile u32 burst = 1;
struct event { u64 ts; u32 pid; u32 tid; u64 seq; char comm[16]; };
BPF_RINGBUF_OUTPUT(events, 4096);  /* 16 MiB */
BPFKIT_EXPORT_TYPE(struct event);
u64 seq = 0;
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) != targ_tgid)
		return 0;
	/* burst records per syscall: one syscall alone cannot produce events fast enough to load the consumer */
	for (int i = 0; i < MAX_BURST && i < burst; i++) {
		struct event *e = ringbuf_reserve(events, struct event);
		if (!e)
			return 0;
		e->ts = bpf_ktime_get_ns();
		e->pid = id >> 32;
		e->tid = (u32)id;
		e->seq = __sync_fetch_and_add(&seq, 1);
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		ringbuf_submit(events, e);
	}
	return 0;
}
`;

const generatorC = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
	double secs = atof(argv[1]);
	struct timespec t0, t;
	unsigned long n = 0;
	getchar(); /* start when told: the tracer attaches first */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 1000; i++) syscall(SYS_getppid);
		n += 1000;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	printf("%lu\\n", n);
	return 0;
}
`;

function buildGenerator(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-'));
  fs.writeFileSync(path.join(dir, 'gen.c'), generatorC);
  const r = spawnSync('gcc', ['-O2', '-o', path.join(dir, 'gen'), path.join(dir, 'gen.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc: ${r.stderr}`);
  return path.join(dir, 'gen');
}

export async function ringbufBench(burst: number): Promise<{ produced: number; stored: number; consumed: number; lost: number; gaps: number; seconds: number }> {
  const gen = buildGenerator();
  const cpus = os.cpus().length;
  // Producer on the last CPU, consumer (this process) elsewhere when there is more than one.
  const child = spawn('taskset', ['-c', String(cpus - 1), gen, String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', d => (out += d));
  const bpf = BPF.load({ text: program, name: 'ringbench', rodata: { targ_tgid: child.pid, burst } });
  let consumed = 0;
  let lastSeq = -1n;
  let gaps = 0;
  bpf.events<{ seq: bigint; comm: string }>('events', 'event', e => {
    consumed++;
    if (lastSeq >= 0n && e.seq !== lastSeq + 1n) gaps++;
    lastSeq = e.seq;
  });
  bpf.attachAll();
  const t0 = process.hrtime.bigint();
  child.stdin.end('go\n');
  await new Promise(r => child.on('exit', r));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  // let the consumer finish the backlog: records stored = the BPF side's sequence counter
  const bss = bpf.globals('.bss');
  for (let i = 0; i < 100 && consumed < Number(bss.seq); i++) await new Promise(r => setTimeout(r, 20));
  const stored = Number(bss.seq);
  const lost = bpf.lost('events'); // reserve failures, counted by the BPF side
  const produced = stored + lost;
  bpf.close();
  fs.rmSync(path.dirname(gen), { recursive: true, force: true });
  return { produced, stored, consumed, lost, gaps, seconds: elapsed };
}

/** A fresh node process: import the library, load a cached object, attach; ms since process start. */
export function warmStartMs(): number {
  BPF.load({ text: program, name: 'ringbench' }).close(); // make sure the object is cached
  const script = `
const t0 = performance.timeOrigin;
const { BPF } = await import(${JSON.stringify(path.join(projectRoot, 'dist', 'lib', 'bpf.js'))});
const b = BPF.load({ text: ${JSON.stringify(program)}, name: 'ringbench' });
b.attachAll();
console.log(Date.now() - t0);
b.close();`;
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    runs.push(Number(r.stdout.trim()));
  }
  runs.sort((a, b) => a - b);
  return runs[Math.floor(runs.length / 2)];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rate = (n: number, secs: number) => `${(n / secs / 1e6).toFixed(2)} M/s`;
  for (const burst of [1, 8]) {
    const r = await ringbufBench(burst);
    process.stdout.write(`ringbuf, ${burst} record(s) per traced getppid: produced ${r.produced} (${rate(r.produced, seconds)}), ` +
      `consumed ${r.consumed} decoded into objects (${rate(r.consumed, seconds)}), lost ${r.lost}\n`);
  }
  if (fs.existsSync(path.join(projectRoot, 'dist', 'lib', 'bpf.js'))) {
    process.stdout.write(`warm start to attached (node start -> cached object loaded and attached, median of 5): ${warmStartMs().toFixed(0)} ms\n`);
  }
}
