// bench/memleak: what memleak costs the traced program. A C program calls malloc() and free() 200,000
// times each (pairs of 64 bytes) and reports its calls per second: alone, under `memleak -p` (a uprobe
// and a uretprobe on every malloc, a uprobe on every free) and under `memleak -s 10` (every call still
// traps into the kernel, but only about one in ten allocations is recorded). Prints each rate and the
// ratio to the untraced one. The reference is BCC memleak's design run by bpftrace on the same program:
// a uprobe and a uretprobe on malloc (size by thread, then the outstanding allocation by address with its
// user stack) and a uprobe on free (the allocation deleted); the bar is memleak's slowdown
// within 2x of that design's.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { allProgramsLinked, bpfFdsOf } from '../test/bpf-fds.js';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const dir = fs.mkdtempSync('/var/tmp/bpfkit-bench-memleak-');
const bin = path.join(dir, 'mallocs');
fs.writeFileSync(`${bin}.c`, `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
void *volatile p;
int main(void)
{
	char c;
	if (read(0, &c, 1) != 1) /* started once the tracer has attached */
		return 1;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 200000; i++) {
		p = malloc(64);
		free(p);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.0f\\n", 400000 / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
	return 0;
}
`);
const cc = spawnSync('gcc', ['-O1', '-o', bin, `${bin}.c`], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(cc.stderr);

/** A tracer's command line for the traced pid, and when it has attached (memleak: a link for each program). */
type Tracer = { command: (pid: number) => [string, string[]]; attached: (pid: number) => boolean };
/**
 * bpftrace attaches each probe through a perf event, not a link (their fdinfo names no program): attached
 * once it holds a perf event per program beside its output buffer's one per CPU.
 */
const perfEventPerProgram = (pid: number) => {
  const { programs, perfEvents } = bpfFdsOf(pid);
  return programs.length > 0 && perfEvents >= programs.length + os.availableParallelism();
};

/** BCC memleak's design for malloc/free, as a bpftrace program: the reference's per-call work. */
const bccDesign = (pid: number) => `
uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc /pid == ${pid}/ { @size[tid] = arg0; }
uretprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc /pid == ${pid} && @size[tid]/ {
  @allocs[retval] = (@size[tid], ustack); delete(@size[tid]);
}
uprobe:/lib/x86_64-linux-gnu/libc.so.6:free /pid == ${pid}/ { delete(@allocs[arg0]); }
END { clear(@allocs); clear(@size); }`;

const memleak = (args: string[]): Tracer => ({
  command: pid => [path.join(projectRoot, 'bin', 'bpfkit-node'), [path.join(projectRoot, 'tools', 'mem', 'memleak.ts'), ...args, '-p', String(pid), '99']],
  attached: allProgramsLinked,
});
const bpftrace: Tracer = { command: pid => ['bpftrace', ['-e', bccDesign(pid)]], attached: perfEventPerProgram };

async function callsPerSecond(tracerOf?: Tracer): Promise<number> {
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', d => (out += d));
  let tracer: ChildProcess | undefined;
  if (tracerOf) {
    const [cmd, args] = tracerOf.command(child.pid!);
    tracer = spawn(cmd, args, { stdio: 'ignore' });
    for (let i = 0; i < 600 && !tracerOf.attached(tracer.pid!); i++) await sleep(50);
  }
  child.stdin!.end('g');
  await new Promise(r => child.on('exit', r));
  if (tracer) {
    tracer.kill('SIGINT');
    await new Promise(r => tracer!.on('exit', r));
  }
  return Number(out.trim());
}

try {
  const best = async (tracer?: Tracer) => {
    const rates: number[] = [];
    for (let i = 0; i < 3; i++) rates.push(await callsPerSecond(tracer));
    return Math.max(...rates);
  };
  const alone = await best();
  const traced = await best(memleak([]));
  const sampled = await best(memleak(['-s', '10']));
  const reference = await best(bpftrace);
  const line = (label: string, rate: number) => `${label}: ${(rate / 1e6).toFixed(2)} M calls/s (${(rate / alone).toFixed(3)} of untraced)`;
  console.log(`memleak: malloc+free calls per second of the traced program (best of 3), load ${os.loadavg()[0].toFixed(1)}`);
  console.log('  ' + line('untraced', alone));
  console.log('  ' + line('memleak -p', traced));
  console.log('  ' + line('memleak -s 10 -p', sampled));
  console.log('  ' + line("BCC's design (bpftrace)", reference));
  console.log(`  slowdown: ${(alone / traced).toFixed(1)}x traced, ${(alone / sampled).toFixed(1)}x sampled, ${(alone / reference).toFixed(1)}x BCC's design: ` +
    `memleak ${(reference / traced).toFixed(2)}x the design's (bar 2x)`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
