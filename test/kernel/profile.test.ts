// profile on the real kernel: a C program built here spends ~90 % of its time in hot_loop() and ~10 %
// in cold_loop() (9:1 iterations of the same loop), a Node program burns in one JS function under
// --perf-basic-prof; the sampled user stacks must say so, symbolised, in every output form.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { buildSpin, noRustc } from '../fixtures/rust/build.js';
import { buildC, expectRefusedUnprivileged, expectUsageErrors, sleep, startTool, tmpDir } from './helpers.js';

const dir = tmpDir('bpfkit-profile-');
const burn = path.join(dir, 'burn');
const source = `
#include <stdlib.h>
#include <time.h>
static volatile unsigned long sink;
/* the loops call it once, so they are not leaf functions: gcc gives leaves no frame, even with
 * -fno-omit-frame-pointer, and a frame-pointer walk from one skips its caller */
__attribute__((noinline)) void done(void) { sink++; }
__attribute__((noinline)) void hot_loop(void) { for (unsigned long i = 0; i < 9000000; i++) sink += i; done(); }
__attribute__((noinline)) void cold_loop(void) { for (unsigned long i = 0; i < 1000000; i++) sink += i; done(); }
int main(int argc, char **argv)
{
	time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 60);
	while (time(NULL) < end) { hot_loop(); cold_loop(); }
	return 0;
}
`;

beforeAll(() => buildC(burn, source));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let children: ChildProcess[] = [];
afterEach(() => {
  children.forEach(c => c.kill('SIGKILL'));
  children = [];
});
function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore', cwd: dir }); // node writes its isolate logs in its cwd
  children.push(c);
  return c;
}

/** Folded lines -> [frames, count]. */
const folded = (text: string) => text.split('\n').filter(Boolean).map(l => {
  const m = /^(.*) (\d+)$/.exec(l)!;
  return [m[1].split(';'), Number(m[2])] as [string[], number];
});

async function profile(args: string[]) {
  const t = startTool('profile', args);
  const code = await t.exited;
  return { code, stdout: t.stdout(), stderr: t.stderr() };
}

test('-U -p PID -f: hot_loop in 80-95 % of the samples, under main; cold_loop in the rest', async () => {
  const b = start(burn, ['30']);
  await sleep(200);
  // 199 Hz: a few hundred samples in 5 s keep the share's sampling error near 2 % (4 % at 50, on a loaded machine)
  const r = await profile(['-U', '-F', '199', '-p', String(b.pid), '-f', '5']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const stacks = folded(r.stdout);
  const total = stacks.reduce((a, [, n]) => a + n, 0);
  const share = (fn: string) => stacks.filter(([f]) => f.includes(fn)).reduce((a, [, n]) => a + n, 0) / total;
  console.log(`profile: ${total} samples, hot_loop ${(100 * share('hot_loop')).toFixed(1)} %, cold_loop ${(100 * share('cold_loop')).toFixed(1)} %`);
  expect(total).toBeGreaterThanOrEqual(50); // it shares the CPUs with other work: fewer than 199 x 5
  expect(share('hot_loop')).toBeGreaterThanOrEqual(0.8);
  expect(share('hot_loop')).toBeLessThanOrEqual(0.95);
  expect(share('cold_loop')).toBeGreaterThan(0.03);
  for (const [frames] of stacks) expect(frames[0]).toBe('burn');
  const hot = stacks.filter(([f]) => f.at(-1) === 'hot_loop');
  expect(hot.length).toBeGreaterThan(0);
  for (const [frames] of hot) expect(frames.at(-2)).toBe('main'); // main -> hot_loop, root first
}, 60_000);

test('a process that exits before the print still resolves; the default output has offsets, modules and "- comm (pid)"', async () => {
  const b = start(burn, ['3']);
  await sleep(200);
  const r = await profile(['-U', '-p', String(b.pid), '5']);
  expect(b.exitCode).toBe(0); // it ended a second or more before the print
  expect(r.code).toBe(0);
  expect(r.stdout.split('\n')[0]).toBe(`Sampling at 49 Hertz of PID ${b.pid} by user stack for 5 secs.`);
  expect(r.stdout).toMatch(/^ {4}hot_loop\+0x[0-9a-f]+ \[burn\]\n {4}main\+0x[0-9a-f]+ \[burn\]\n/m);
  expect(r.stdout).toContain(`    -                burn (${b.pid})\n`);
}, 30_000);

test('--flamegraph writes an SVG with hot_loop in it; --json prints one valid stacks record', async () => {
  const b = start(burn, ['30']);
  await sleep(200);
  const svg = path.join(dir, 'cpu.svg');
  const r = await profile(['-p', String(b.pid), '--flamegraph', svg, '--json', '2']);
  expect(r.code).toBe(0);
  expect(fs.readFileSync(svg, 'utf8')).toMatch(/^<\?xml[\s\S]*data-name="hot_loop"[\s\S]*<\/svg>\n$/);
  const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l));
  expect(lines).toHaveLength(1);
  expect(validateRecord(lines[0])).toEqual([]);
  expect(lines[0]).toMatchObject({ tool: 'profile', kind: 'stacks', value_field: 'samples' });
  expect(lines[0].stacks[0]).toMatchObject({ pid: b.pid, comm: 'burn', user_stack: expect.arrayContaining(['hot_loop', 'main']) });
}, 30_000);

test('a hot JS function under node --perf-basic-prof is named by the JIT map', async () => {
  const js = path.join(dir, 'hot.js');
  fs.writeFileSync(js, `
function hotJsFunction(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * i) % 1000003; return s; }
const end = Date.now() + 30000;
let sink = 0;
while (Date.now() < end) sink += hotJsFunction(1e6);
`);
  const n = start(process.execPath, ['--perf-basic-prof', js]);
  await sleep(1000); // compiled, and written to /tmp/perf-PID.map
  try {
    const r = await profile(['-U', '-F', '99', '-p', String(n.pid), '-f', '2']);
    expect(r.code).toBe(0);
    const stacks = folded(r.stdout);
    const total = stacks.reduce((a, [, c]) => a + c, 0);
    const named = stacks.filter(([f]) => f.some(x => x.includes('hotJsFunction'))).reduce((a, [, c]) => a + c, 0);
    console.log(`profile: node ${total} samples, ${named} in hotJsFunction`);
    expect(named / total).toBeGreaterThan(0.5);
  } finally {
    fs.rmSync(`/tmp/perf-${n.pid}.map`, { force: true });
  }
}, 30_000);

(noRustc ? test.skip : test)(`a Rust program's hot loop is named as its source names it, in both manglings${noRustc ? ` (skipped: ${noRustc})` : ''}`, async () => {
  const spins = (['legacy', 'v0'] as const).map(m => start(buildSpin(dir, m), ['spin'])); // spin: until killed
  await sleep(300);
  const r = await profile(['-U', '-F', '199', '-p', spins.map(c => c.pid).join(','), '-f', '3']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const stacks = folded(r.stdout);
  for (const [i, mangling] of ['legacy', 'v0'].entries()) {
    const own = stacks.filter(([f]) => f[0] === `spin-${mangling}`);
    const total = own.reduce((a, [, n]) => a + n, 0);
    const hot = own.filter(([f]) => f.at(-1) === 'spin::hot_loop').reduce((a, [, n]) => a + n, 0);
    console.log(`profile: spin-${mangling} (${spins[i].pid}) ${total} samples, ${hot} in spin::hot_loop`);
    expect(total).toBeGreaterThanOrEqual(10); // it shares the CPUs with the other spin and other work
    expect(hot / total).toBeGreaterThan(0.8); // it does little else
    // the frame-pointer walk reaches its caller, and std's frames read as rustc names them
    for (const [f] of own.filter(([f]) => f.at(-1) === 'spin::hot_loop')) expect(f.at(-2)).toBe('spin::main');
    expect(own.some(([f]) => f.includes(mangling === 'v0' ? 'std::rt::lang_start::<()>::{closure#0}' : 'std::rt::lang_start::{{closure}}'))).toBe(true);
  }
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('profile', [['-p', 'x'], ['-p', '1', '-L', '1'], ['-U', '-K'], ['-F', '9', '-c', '9'], ['0'], ['-C', '999'], ['--stack-storage-size', '0']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('profile');
});
