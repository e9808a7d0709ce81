// memleak on the real kernel. User mode: a C program leaks exactly 1,000 x 4 KiB from leak_site(),
// 7 x aligned_alloc(64, 512) from leak_aligned(), 10 x posix_memalign(64, 1024) from leak_memalign()
// and 5 x 8 KiB mmap()s from leak_mapping(), and frees everything else it gets from every other
// allocator (malloc, calloc, realloc, memalign, valloc, pvalloc, mmap): each leaking stack is shown
// with exactly those bytes and allocations, the freeing one not at all. Kernel mode: 300 pipes held
// open are at least 300 outstanding allocations under alloc_pipe_info.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import {
  attached, buildC, expectRefusedUnprivileged, expectUsageErrors, findToolFile, heldProgram, root, startTool, tmpDir, track, traceHeld, untilAttached,
} from './helpers.js';

const dir = tmpDir('bpfkit-memleak-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const LEAKS = `#include <malloc.h>
#include <sys/mman.h>
void *volatile kept[1000];
void *volatile aligned[7];
void *volatile memaligned[10];
void *volatile mapped[5];
void *volatile scratch;
__attribute__((noinline)) void leak_site(int i) { kept[i] = malloc(4096); }
__attribute__((noinline)) void leak_aligned(int i) { aligned[i] = aligned_alloc(64, 512); }
__attribute__((noinline)) void leak_memalign(int i) { void *p; if (posix_memalign(&p, 64, 1024) == 0) memaligned[i] = p; }
__attribute__((noinline)) void leak_mapping(int i) { mapped[i] = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }
__attribute__((noinline)) void freed_site(void)
{
	void *p;
	scratch = malloc(4096); free(scratch);
	scratch = calloc(10, 100); scratch = realloc(scratch, 50000); free(scratch);
	scratch = memalign(32, 300); free(scratch);
	scratch = valloc(200); free(scratch);
	scratch = pvalloc(100); free(scratch);
	if (posix_memalign(&p, 16, 64) == 0) free(p);
	scratch = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); munmap(scratch, 4096);
}`;
const WORK = `for (int i = 0; i < 1000; i++) {
		leak_site(i);
		freed_site();
		if (i < 7) leak_aligned(i);
		if (i < 10) leak_memalign(i);
		if (i < 5) leak_mapping(i);
	}`;

/** BCC's text: each stack's "N bytes in M allocations from stack" with its frames. */
function textStacks(text: string): { bytes: number; allocations: number; frames: string[] }[] {
  return [...text.matchAll(/^\t(\d+) bytes in (\d+) allocations from stack\n((?:\t\t.*\n?)*)/gm)]
    .map(m => ({ bytes: Number(m[1]), allocations: Number(m[2]), frames: m[3].split('\n').filter(Boolean).map(l => l.replace(/^\t\t/, '')) }));
}
const jsonLines = (text: string) => text.trim().split('\n').filter(Boolean).map(l => JSON.parse(l));

test('-p PID: exactly the leaked bytes and allocations by stack, freed ones not shown; --combined-only, --json and -z agree', async () => {
  const program = heldProgram(path.join(dir, 'leaker'), LEAKS, WORK);
  await program.started();
  const pid = String(program.pid);
  const combined = startTool('memleak', ['--combined-only', '-p', pid, '99']);
  const json = startTool('memleak', ['--json', '-o', '0', '-p', pid, '99']);
  const large = startTool('memleak', ['-o', '0', '-z', '8192', '-p', pid, '99']);
  const others = [combined, json, large];
  await untilAttached(others);
  const { tool, code } = await traceHeld('memleak', ['-o', '0', '-p', pid, '99'], program, others);
  const codes = await Promise.all(others.map(t => t.stop()));
  expect([code, ...codes]).toEqual([0, 0, 0, 0]);

  const text = tool.stdout();
  expect(text).toMatch(new RegExp(`^Attaching to pid ${pid}, Ctrl\\+C to quit\\.\\n\\[\\d\\d:\\d\\d:\\d\\d\\] Top 10 stacks with outstanding allocations:\\n`));
  const stacks = textStacks(text);
  const leak = stacks.find(s => s.frames[0].includes('leak_site'))!;
  expect(leak).toMatchObject({ bytes: 4096000, allocations: 1000 });
  expect(leak.frames[0]).toMatch(/^0x[0-9a-f]{16}\tleak_site\+0x[0-9a-f]+ \[leaker\]$/);
  expect(leak.frames[1]).toMatch(/^0x[0-9a-f]{16}\tmain\+0x[0-9a-f]+ \[leaker\]$/);
  // a function's leaks, over its stacks (the compiler may call it from two places in the unrolled loop)
  const site = (name: string) => stacks.filter(s => s.frames.some(f => f.includes(`\t${name}+`)))
    .reduce((a, s) => [a[0] + s.bytes, a[1] + s.allocations], [0, 0]);
  expect(site('leak_site')).toEqual([4096000, 1000]);
  expect(site('leak_aligned')).toEqual([3584, 7]);
  expect(site('leak_memalign')).toEqual([10240, 10]);
  expect(site('leak_mapping')).toEqual([40960, 5]);
  expect(site('freed_site')).toEqual([0, 0]);
  // BCC's order: the largest last
  expect(stacks.at(-1)).toBe(leak);

  // --combined-only: the same totals from the in-kernel per-stack counters (frames without addresses)
  const combinedStacks = textStacks(combined.stdout());
  expect(combinedStacks.find(s => s.frames[0].startsWith('leak_site+'))).toMatchObject({ bytes: 4096000, allocations: 1000 });
  const combinedAligned = combinedStacks.filter(s => s.frames[0].startsWith('leak_aligned+'));
  expect(combinedAligned.reduce((a, s) => [a[0] + s.bytes, a[1] + s.allocations], [0, 0])).toEqual([3584, 7]); // aligned_alloc is memalign: counted once
  expect(combinedStacks.filter(s => s.frames.some(f => f.startsWith('freed_site+')))).toEqual([]);

  const records = jsonLines(json.stdout());
  expect(records).toHaveLength(1);
  expect(validateRecord(records[0])).toEqual([]);
  expect(records[0]).toMatchObject({ tool: 'memleak', kind: 'stacks', value_field: 'bytes' });
  expect(records[0].stacks[0]).toMatchObject({ pid: program.pid, bytes: 4096000, allocations: 1000, user_stack: expect.arrayContaining(['leak_site', 'main']) });
  expect(records[0].stacks[0].user_stack[0]).toBe('leak_site');

  // -z 8192: only the 8 KiB mappings are that large
  const largeStacks = textStacks(large.stdout());
  expect(largeStacks.length).toBeGreaterThan(0);
  expect(largeStacks.every(s => /^0x[0-9a-f]+\tleak_mapping\+/.test(s.frames[0]))).toBe(true);
  expect(largeStacks.reduce((a, s) => [a[0] + s.bytes, a[1] + s.allocations], [0, 0])).toEqual([40960, 5]);
}, 60_000);

test('-c COMMAND: runs it, traces it from its exec (not the shell before), ends with it', async () => {
  const bin = path.join(dir, 'leak-and-wait');
  buildC(bin, `#include <stdlib.h>
#include <unistd.h>
void *volatile kept[300];
__attribute__((noinline)) void leak_site(int i) { kept[i] = malloc(1000); }
int main(void)
{
	char c;
	for (int i = 0; i < 300; i++)
		leak_site(i);
	while (read(0, &c, 1) > 0) /* alive until its stdin closes: its mappings name the frames */
		;
	return 0;
}
`);
  const launcher = path.join(root, 'bin', 'bpfkit-node.mjs');
  const child = spawn(process.execPath, [launcher, findToolFile('memleak'), '-o', '0', '-c', bin, '1'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const t = track(child, 'memleak -c');
  await t.waitFor(/300000 bytes in 300 allocations from stack\n\t\t0x[0-9a-f]{16}\tleak_site\+/);
  child.stdin!.end();
  expect(await t.exited).toBe(0);
  expect(t.stdout()).toMatch(/^Executing '.*leak-and-wait' and tracing the resulting process\.\nAttaching to pid \d+, Ctrl\+C to quit\.\n/);
  expect(t.stderr()).toBe(`memleak: command '${bin}' exited\n`);
  // only the command's allocations: every stack is in leak-and-wait's code or its libc's start-up
  for (const s of textStacks(t.stdout())) expect(s.frames.join('\n')).toMatch(/\[(leak-and-wait|libc\.so\.6|ld-linux-x86-64\.so\.2)\]/);
}, 60_000);

test('kernel mode: 300 pipes held open are outstanding allocations under alloc_pipe_info', async () => {
  const program = heldProgram(path.join(dir, 'pipes'), 'int fds[300][2];', 'for (int i = 0; i < 300; i++) if (pipe(fds[i])) return 1;');
  await program.started();
  const tool = startTool('memleak', ['--json', '-o', '0', '--combined-only', '-T', '100000', '99']);
  await attached(tool);
  await program.release();
  await tool.stop();
  program.end();
  const [record] = jsonLines(tool.stdout());
  expect(validateRecord(record)).toEqual([]);
  const pipeStacks = record.stacks.filter((s: any) => s.kernel_stack.includes('alloc_pipe_info') && s.kernel_stack.includes('do_pipe2'));
  const allocations = pipeStacks.reduce((a: number, s: any) => a + s.allocations, 0);
  expect(allocations).toBeGreaterThanOrEqual(300);
  expect(tool.stderr()).toMatch(/^Attaching to kernel allocators, Ctrl\+C to quit\.\n/);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('memleak', [['-p', 'x'], ['-p', '999999999'], ['-z', '10', '-Z', '5'], ['--sort', 'age'], ['-s', '0'], ['-T', '0'], ['-p', '1', '-c', 'true'],
    ['-o', '-1'], ['0'], ['1', '0'], ['-c', ' ']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('memleak');
});

