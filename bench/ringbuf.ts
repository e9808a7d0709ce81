// bench/ringbuf: a tight getppid() storm traced by a ring-buffer program; prints events/s produced,
// consumed (decoded into objects) and lost, and consumed/produced (median of BENCH_RUNS runs). Then a
// warm start: a fresh node process from its first line to a cached object loaded and attached.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BPF } from '../lib/bpf.js';
import { projectRoot } from '../lib/compile/index.js';

// per record, a module constant: a global lookup costs ~0.5 µs inside jest's vm context
const toNumber = Number;
const defaultSeconds = Number(process.env.BENCH_SECONDS ?? 3);
const benchRuns = Number(process.env.BENCH_RUNS ?? 3);

const program = `
#include <bpfkit.h>
#define MAX_BURST 16
const volatile u32 targ_tgid = 0;
const volatile u32 burst = 1;
struct event { u64 ts; u32 pid; u32 tid; u64 seq; char comm[16]; };
BPF_RINGBUF_OUTPUT(events, 16384);  /* 64 MiB: ~400 ms of records at 3.5 M/s, for a consumer that loses its CPU to other work for a while */
BPFKIT_EXPORT_TYPE(struct event);
u64 seq = 0;
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) != targ_tgid)
		return 0;
	/* burst records per syscall: one syscall alone cannot produce events fast enough to load the consumer;
	   every record is either stored (seq) or counted lost, so stored + lost = syscalls * burst */
	for (int i = 0; i < MAX_BURST && i < burst; i++) {
		struct event *e = ringbuf_reserve(events, struct event);
		if (!e)
			continue;
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
	double secs = atof(argv[1]), elapsed;
	struct timespec t0, t;
	unsigned long n = 0;
	getchar(); /* start when told: the tracer attaches first */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 1000; i++) syscall(SYS_getppid);
		n += 1000;
		clock_gettime(CLOCK_MONOTONIC, &t);
		elapsed = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
	} while (elapsed < secs);
	printf("%lu %.6f\\n", n, elapsed);
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

export interface RingbufRun {
  /** getppid() calls the generator made, each traced once. */
  syscalls: number;
  /** Records the BPF side tried to write: syscalls * burst. */
  produced: number;
  /** Records written into the ring (the BPF side's sequence counter). */
  stored: number;
  /** Records decoded into objects by the consumer, during the storm and from the backlog after it. */
  consumed: number;
  /** Of which: consumed after the storm ended (the ring's backlog). */
  backlog: number;
  /** Reserve failures counted by the BPF side (bpf.lost). */
  lost: number;
  /** Sequence numbers not following the previous record's (records out of order or missing). */
  gaps: number;
  /** The first and last sequence numbers received (-1 if none). */
  firstSeq: number;
  lastSeq: number;
  /** The generator's own duration of the storm. */
  seconds: number;
  /** CPU time of this (the consumer's) process during the storm, in seconds. */
  consumerCpu: number;
}

/**
 * How the consumer reads records: decoded into objects by bpf.events() (what tools do), or, as a
 * consumer that only aggregates would, fields read in place by bpf.fieldReaders() over bpf.rawEvents().
 */
export type Consumer = 'objects' | 'fields';

/** One storm of `seconds` with `burst` records per traced getppid(). */
export async function ringbufBench(burst: number, seconds = defaultSeconds, consumer: Consumer = 'objects'): Promise<RingbufRun> {
  const gen = buildGenerator();
  const cpus = os.cpus().length;
  // Producer on the last CPU, consumer (this process) elsewhere when there is more than one.
  const child = spawn('taskset', ['-c', String(cpus - 1), gen, String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', d => (out += d));
  const bpf = BPF.load({ text: program, name: 'ringbench', rodata: { targ_tgid: child.pid, burst } });
  try {
    let consumed = 0;
    let firstSeq = -1;
    let lastSeq = -1;
    let gaps = 0;
    const check = (seq: number) => {
      consumed++;
      if (lastSeq < 0) firstSeq = seq;
      else if (seq !== lastSeq + 1) gaps++;
      lastSeq = seq;
    };
    let stream;
    if (consumer === 'objects') {
      stream = bpf.events<{ seq: bigint; comm: string }>('events', 'event', e => check(toNumber(e.seq)));
    } else {
      const f = bpf.fieldReaders<{ seq: number; tid: number }>('event', { int64: 'number' });
      const perThread = new Map<number, number>();
      stream = bpf.rawEvents('events', (dv, off) => {
        check(f.seq(dv, off));
        const tid = f.tid(dv, off);
        perThread.set(tid, (perThread.get(tid) ?? 0) + 1);
      });
    }
    bpf.attachAll();
    const cpu0 = process.cpuUsage();
    child.stdin.end('go\n');
    const code = await new Promise(r => child.on('close', r));
    const cpu = process.cpuUsage(cpu0);
    if (code !== 0) throw new Error(`the getppid generator exited with ${code}`);
    const [syscalls, elapsed] = out.trim().split(' ').map(Number);
    // Every record is committed once the generator has exited: take the backlog now, synchronously.
    const before = consumed;
    while (stream.drain() > 0);
    const stored = Number(bpf.globals('.bss').seq);
    return {
      syscalls, produced: syscalls * burst, stored, consumed, backlog: consumed - before, lost: bpf.lost('events'), gaps,
      firstSeq, lastSeq, seconds: elapsed, consumerCpu: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    bpf.close();
    fs.rmSync(path.dirname(gen), { recursive: true, force: true });
  }
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (import.meta.url === `file://${process.argv[1]}`) {
  const mps = (n: number) => `${(n / 1e6).toFixed(2)} M/s`;
  process.stdout.write(`ringbuf: load average before the runs ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, ${os.cpus().length} CPUs\n`);
  const configs: [number, Consumer][] = [[1, 'objects'], [8, 'objects'], [8, 'fields']];
  for (const [burst, consumer] of configs) {
    const what = consumer === 'objects' ? 'decoded into objects' : 'read in place (fieldReaders)';
    const results: RingbufRun[] = [];
    for (let i = 0; i < benchRuns; i++) {
      const r = await ringbufBench(burst, defaultSeconds, consumer);
      results.push(r);
      process.stdout.write(`  ${burst} record(s) per traced getppid: produced ${r.produced} (${mps(r.produced / r.seconds)}), ` +
        `consumed ${r.consumed} ${what} (${mps(r.consumed / r.seconds)}; ${r.backlog} of them after the storm), lost ${r.lost}, ` +
        `consumed/produced ${(r.consumed / r.produced).toFixed(3)}, consumer CPU ${((100 * r.consumerCpu) / r.seconds).toFixed(0)} % of a core ` +
        `(${((r.consumerCpu * 1e9) / r.consumed).toFixed(0)} ns/record)\n`);
    }
    const ratio = median(results.map(r => r.consumed / r.produced));
    process.stdout.write(`ringbuf, ${burst} record(s) per traced getppid, ${what} (median of ${benchRuns}): produced ${mps(median(results.map(r => r.produced / r.seconds)))}, ` +
      `consumed ${mps(median(results.map(r => r.consumed / r.seconds)))}, lost ${median(results.map(r => r.lost))}, consumed/produced ${ratio.toFixed(3)}\n`);
  }
  if (fs.existsSync(path.join(projectRoot, 'dist', 'lib', 'bpf.js'))) {
    process.stdout.write(`warm start to attached (node start -> cached object loaded and attached, median of 5): ${warmStartMs().toFixed(0)} ms\n`);
  }
}
