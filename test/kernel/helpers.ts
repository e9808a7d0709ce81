// Shared helpers for kernel tests: run tools as child processes, wait for their output, cause work.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolCommandLine } from '../../lib/cli/command.js';
import { allProgramsLinked } from '../bpf-fds.js';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const launcher = path.join(root, 'bin', 'bpfkit-node.mjs');

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches (or rejects after timeoutMs with what was seen). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Where a stuck process's threads are: state, wait channel and kernel stack (for a failure's message). */
export function whereStuck(pid: number): string {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch { /* gone */ }
  return tids.map(tid => {
    const dir = `/proc/${pid}/task/${tid}`;
    return `\n  ${tid} ${read(`${dir}/comm`)} ${/^State:\s+(.*)$/m.exec(read(`${dir}/status`))?.[1] ?? '?'} wchan=${read(`${dir}/wchan`)} ${read(`${dir}/stack`).split('\n').slice(0, 6).join(' <- ')}`;
  }).join('');
}

/** Starts tools/<sub>/<tool>.ts with args, the way a user does (through the launcher). */
export function startTool(tool: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, toolArgv(tool, args), {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child, tool);
}

/** Starts Debian's libbpf-tools reference (/usr/sbin/<tool>) for conformance runs. */
export function startReference(tool: string, args: string[] = []): Running {
  // stdbuf: libbpf-tools print with stdio, fully buffered on a pipe
  return track(spawn('stdbuf', ['-oL', `/usr/sbin/${tool}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), `libbpf-tools ${tool}`);
}

const running = new Set<ChildProcess>();
/** Kills whatever a failed test left running (call from afterEach). */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
}
if (typeof afterEach === 'function') afterEach(killAll);

/** Follows a child's output and exit (startTool's and startReference's; also for other tracers: bpftrace). */
export function track(child: ChildProcess, label: string): Running {
  running.add(child);
  let out = '';
  let err = '';
  const listeners: (() => void)[] = [];
  child.stdout!.on('data', d => {
    out += d;
    for (const l of listeners.slice()) l();
  });
  child.stderr!.on('data', d => {
    err += d;
  });
  // 'exit' can come before the last of its output has been read (a busy parent reads the pipes later):
  // resolve once stdout and stderr are closed too, or 2 s after the exit if something else holds them
  const exited = new Promise<number | null>(resolve => {
    child.on('close', code => resolve(code));
    child.on('exit', code => setTimeout(() => resolve(code), 2000).unref());
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs = 20000) {
      return new Promise((resolve, reject) => {
        const done = () => {
          listeners.splice(listeners.indexOf(check), 1);
          clearTimeout(t);
        };
        const check = () => {
          const m = out.match(re);
          if (m) {
            done();
            resolve(m);
          }
        };
        const t = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${re} from ${label}\n--- stdout:\n${out}\n--- stderr:\n${err}`));
        }, timeoutMs);
        listeners.push(check);
        exited.then(() => setTimeout(() => {
          if (!listeners.includes(check)) return;
          check();
          if (!listeners.includes(check)) return;
          done();
          reject(new Error(`${label} exited before printing ${re}\n--- stdout:\n${out}\n--- stderr:\n${err}`));
        }, 50));
        check();
      });
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      // a tool that has not exited 40 s after the signal is stuck: say where, and end it (exit code null)
      const timer = setTimeout(() => {
        err += whereStuck(child.pid!);
        process.stderr.write(`${label} did not exit 40 s after ${signal}:${whereStuck(child.pid!)}\n`);
        child.kill('SIGKILL');
      }, 40_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs a tool to completion (for interval/count runs and bad input). */
export function runTool(tool: string, args: string[], opts: { timeoutMs?: number; uid?: number } = {}) {
  const r = spawnSync(process.execPath, toolArgv(tool, args), {
    cwd: root, encoding: 'utf8', timeout: opts.timeoutMs ?? 30000, uid: opts.uid, gid: opts.uid,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export type ToolResult = ReturnType<typeof runTool>;

export type ToolRun = [tool: string, args: string[], opts?: { uid?: number }];

/**
 * runTool for many runs, `parallel` at a time (a run that ends at once is mostly start-up, CPU-bound:
 * about as many as there are CPUs); the results in the runs' order.
 */
export async function runTools(runs: ToolRun[], parallel = os.cpus().length + 1): Promise<ToolResult[]> {
  return inTurns(runs, parallel, ([tool, args, opts = {}]) => new Promise<ToolResult>(resolve => {
    const child = spawn(process.execPath, toolArgv(tool, args), { cwd: root, timeout: 30000, uid: opts.uid, gid: opts.uid });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', code => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  }));
}

/** fn over every item, at most `parallel` at a time, in the items' order; the results in that order. */
export async function inTurns<T, R>(items: T[], parallel: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return results;
}

/** Each argument list is a usage error: exit 2 and exactly one line, "<tool>: ..." (so no stack trace). */
export function expectUsageErrors(tool: string, argLists: string[][]): void {
  for (const args of argLists) {
    const r = runTool(tool, args);
    expect([args, r.code]).toEqual([args, 2]);
    expect([args, r.stderr]).toEqual([args, expect.stringMatching(new RegExp(`^${tool}: [^\n]+\n$`))]);
  }
}

/** Run as nobody (with arguments it accepts, for a tool that requires some): exactly the one line saying root or CAP_BPF+CAP_PERFMON is needed, exit 1. */
export function expectRefusedUnprivileged(tool: string, args: string[] = []): void {
  const r = runTool(tool, args, { uid: NOBODY });
  expect({ tool, code: r.code, stderr: r.stderr }).toEqual({ tool, code: 1, stderr: unprivilegedRefusal(tool) });
}

export const NOBODY = 65534;
/** What a tool run without privileges prints: all of its stderr. */
export const unprivilegedRefusal = (tool: string) => `${tool}: needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs\n`;

/** node's arguments that run a tool as its shebang does, then the tool's own. */
const toolArgv = (tool: string, args: string[]) => [...toolCommandLine(findToolFile(tool)), ...args];

export function findToolFile(tool: string): string {
  for (const sub of fs.readdirSync(path.join(root, 'tools'))) {
    const f = path.join(root, 'tools', sub, `${tool}.ts`);
    if (fs.existsSync(f)) return f;
  }
  throw new Error(`no tool ${tool}`);
}

/** Waits until the tool printed its header/banner (it has attached by then). */
export async function ready(r: Running, re = /Hit Ctrl-C|PID|COMM/): Promise<void> {
  await r.waitFor(re);
}

export function tmpDir(prefix = 'bpfkit-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** IDs of BPF programs currently loaded (bpftool). */
export function loadedProgramIds(): Set<number> {
  const r = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as { id: number; pids?: { pid: number }[] }[];
  return new Set(list.map(p => p.id));
}

/** Programs loaded now whose names are among `names` (bpftool's, up to 15 characters): what a tool of those programs left behind. */
export function loadedProgramsNamed(names: string[]): number[] {
  const r = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as { id: number; name?: string }[];
  return list.filter(p => p.name && names.some(n => n.slice(0, 15) === p.name)).map(p => p.id);
}

/** The events a tool said at exit the kernel skipped its programs for (BPF.missedEvents; 0 when it said nothing). */
export const missedEvents = (r: Running) => Number(/(\d+) events missed: BPF programs were already running on that CPU/.exec(r.stderr())?.[1] ?? 0);

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Polls until `cond` holds. The deadline only turns a hang into a message: no machine needs it. */
export async function waitUntil(cond: () => boolean, what: string, ms = 30000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(20)) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  }
}

// what a process holds of BPF, from its fds' fdinfo: one reader with jest's teardown and the benches
export { allProgramsLinked, bpfFdsOf } from '../bpf-fds.js';

/**
 * Waits until none of these programs is loaded any more: the kernel frees a program after its last
 * fd is closed, a moment later (RCU), so right after its process exited it may still be listed.
 */
export async function unloaded(programs: number[]): Promise<void> {
  let left = programs;
  await waitUntil(() => {
    const loaded = loadedProgramIds();
    left = programs.filter(id => loaded.has(id));
    return left.length === 0;
  }, `programs ${left.join(', ')} to be unloaded`);
}

/** Waits until a tool holds a link for every program it loaded: attached, for modes with no header (--json). */
export async function attached(r: Running): Promise<void> {
  await waitUntil(() => {
    if (r.child.exitCode !== null) throw new Error(`the tool exited (${r.child.exitCode}) before attaching:\n${r.stderr()}`);
    return allProgramsLinked(r.child.pid!);
  }, 'the tool to attach its programs');
}

/** Waits until the tool has printed `banner` (on stdout, or on stderr with --json): tools print it once all is attached. */
export function printed(banner: string): (r: Running) => Promise<void> {
  return r => waitUntil(() => {
    if (r.child.exitCode !== null) throw new Error(`the tool exited (${r.child.exitCode}):\n${r.stderr()}`);
    return r.stdout().includes(banner) || r.stderr().includes(banner);
  }, `the tool to print ${banner}`);
}

/** Waits until every tracer still running holds a link for each of its programs (see attached). */
export async function untilAttached(tracers: Running[]): Promise<void> {
  await Promise.all(tracers.filter(t => t.child.exitCode === null).map(t => attached(t)));
}

/** Builds a test program from C source, as the stack tests want it: -O1, frame pointers kept. */
export function buildC(file: string, source: string, flags: string[] = []): void {
  fs.writeFileSync(`${file}.c`, source);
  const cc = spawnSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-o', file, `${file}.c`, ...flags], { encoding: 'utf8' });
  if (cc.status !== 0 || cc.stderr) throw new Error(`gcc ${file}.c: ${cc.stderr}`);
}

/** A test program that is held until released: its PID can be a tool's -p before it does its work. */
export interface HeldProgram {
  pid: number;
  /** Resolves once the process runs the program (under chrt: once chrt has exec'd it). */
  started(): Promise<void>;
  /** Lets it run its work; resolves when the work is done (the program stays alive until end()). */
  release(): Promise<void>;
  end(): void;
  /** What it printed so far. */
  output(): string;
}

/**
 * Builds (buildC) and starts a C program whose main() waits for a byte on stdin, runs `body`, says
 * so, and waits for stdin to close. `functions` is C placed before main(). With `realtime`, it runs
 * under SCHED_FIFO (chrt execs it: same PID), so that a loaded machine does not stretch its sleeps.
 */
export function heldProgram(file: string, functions: string, body: string, opts: { realtime?: boolean } = {}): HeldProgram {
  const source = heldSource(functions, body);
  // the same program started again (two processes of one binary) is not rebuilt
  if (!fs.existsSync(file) || fs.readFileSync(`${file}.c`, 'utf8') !== source) buildC(file, source);
  const [cmd, args] = opts.realtime ? ['chrt', ['-f', '50', file]] : [file, []];
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  running.add(child);
  let out = '';
  const done = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', d => {
      out += d;
      if (out.includes('done')) resolve();
    });
    child.on('exit', code => reject(new Error(`${file} exited (${code}) before its work was done`)));
  });
  done.catch(() => {});
  return {
    pid: child.pid!,
    started: () => waitUntil(() => {
      try {
        return fs.readlinkSync(`/proc/${child.pid}/exe`) === file;
      } catch {
        return false;
      }
    }, `${file} to start`),
    release: () => (child.stdin!.write('g'), done),
    end: () => child.stdin!.end(),
    output: () => out,
  };
}

/** The non-empty rows of a log2 histogram as BCC prints it ("low -> high : count"): ["low-high", count], in order. */
export function histogramRows(text: string): [string, number][] {
  return [...text.matchAll(/^ *(\d+) -> (\d+) *: (\d+) /gm)].map((m): [string, number] => [`${m[1]}-${m[2]}`, Number(m[3])]).filter(([, n]) => n > 0);
}

/** A --json histogram's buckets as histogramRows' rows ("start-end" -> count), the counted ones. */
export const bucketRows = (buckets: { start: number; end: number; count: number }[]): Record<string, number> =>
  Object.fromEntries(buckets.filter(b => b.count > 0).map(b => [`${b.start}-${b.end}`, b.count]));

/**
 * Histogram rows ("low-high" -> count) with those from `from` up to `ceiling` added up in `${from}+`.
 * A timing with a known floor (a 10 ms sleep is never shorter) lands in its row or, stretched, above it:
 * on a VM a vCPU that is not running (steal time) delays a wakeup by milliseconds. Rows past `ceiling`
 * (2^20 units unless the run's own length is known) stay apart: a unit mistake.
 */
export function rowsFrom(rows: Record<string, number> | [string, number][], from: number, ceiling = 2 ** 20): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [range, n] of Array.isArray(rows) ? rows : Object.entries(rows)) {
    const low = Number(range.split('-')[0]);
    const key = low >= from && low <= ceiling ? `${from}+` : range;
    out[key] = (out[key] ?? 0) + n;
  }
  return out;
}

/** How many timings rowsFrom puts in `${from}+`. */
export const countFrom = (rows: Record<string, number> | [string, number][], from: number): number => rowsFrom(rows, from)[`${from}+`] ?? 0;

/**
 * Steal time from now on, per CPU, in seconds (/proc/stat's 8th column, in USER_HZ): how long a vCPU
 * wanted to run while the hypervisor ran something else. A vCPU that is not running takes no samples.
 */
export function stealSince(): () => number[] {
  const read = () => fs.readFileSync('/proc/stat', 'utf8').split('\n').filter(l => /^cpu\d+ /.test(l)).map(l => Number(l.split(/\s+/)[8]));
  const before = read();
  return () => read().map((ticks, i) => (ticks - before[i]!) / 100);
}

/** The rows of one map of bpftrace's hist()/lhist() print ("@name: " then "[1K, 2K)  count |@@@|"), summed over every print of it: label -> count. */
export function bpftraceHistRows(text: string, mapName: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const block of text.split(`\n@${mapName}: \n`).slice(1)) {
    for (const m of block.split('\n\n')[0]!.matchAll(/^(\[[^\]\n]*?[\])]) +(\d+) \|/gm)) rows.set(m[1]!, (rows.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return rows;
}

/**
 * Runs a tool while a held program does its work: starts it, waits until it has attached (and the
 * `others` too), releases the program, waits for its work, Ctrl-C; the tool and its exit code.
 * `ready` replaces attached() for tools that attach one program more than once (uprobes on several
 * functions): attached() only knows there is a link per program.
 */
export async function traceHeld(tool: string, args: string[], program: HeldProgram, others: Running[] = [],
  ready: (t: Running) => Promise<void> = attached): Promise<{ tool: Running; code: number | null }> {
  const t = startTool(tool, args);
  try {
    await ready(t);
    await untilAttached(others);
    await program.release();
    return { tool: t, code: await t.stop() };
  } finally {
    program.end();
  }
}

/** A process held until go(): it waits for a byte on stdin; `done` resolves when it prints "done". */
export interface HeldProcess { child: ChildProcess; pid: number; done: Promise<void>; go(): void; end(): void }

/**
 * Starts a workload that reads one byte from stdin before its work (so a tracer can attach to its PID
 * first), prints "done" after it and stays alive until stdin closes (end()).
 */
export function startHeld(cmd: string, args: string[] = []): HeldProcess {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  running.add(child);
  let out = '';
  const done = new Promise<void>(resolve => child.stdout!.on('data', d => {
    out += d;
    if (out.includes('done')) resolve();
  }));
  return { child, pid: child.pid!, done, go: () => child.stdin!.write('g'), end: () => child.stdin!.end() };
}

/**
 * A C workload for startHeld: waits for a byte on stdin, runs `body`, prints "done", then waits for
 * stdin to close (alive, so its PID still names it, when the tracer reports). Returns the binary.
 */
export function buildHeldWorkload(dir: string, name: string, body: string, extra = ''): string {
  return buildHeldProgram(path.join(dir, name), body, extra);
}

/** buildHeldWorkload by the binary's path. */
export function buildHeldProgram(bin: string, body: string, extra = ''): string {
  buildC(bin, heldSource(extra, body));
  return bin;
}

/**
 * The C of every held test program (heldProgram, buildHeldProgram): main() waits for a byte on stdin,
 * runs `body`, prints "done", then waits for stdin to close. `functions` is C placed before main().
 */
function heldSource(functions: string, body: string): string {
  return `#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
${functions}
int main(void)
{
	char c;
	if (read(0, &c, 1) != 1)
		return 1;
	${body}
	write(1, "done\\n", 5);
	while (read(0, &c, 1) > 0)
		;
	_exit(0);
}
`;
}

/**
 * Runs `body` in a node process of its own (lib/libbpf's koffi types are per process, and Jest gives
 * each test file fresh modules in one process) with `spec` (the tool's definition, imported without
 * running it) and `BPF` in scope; `body` prints one JSON line last, which is returned parsed. For
 * loading a tool's program as a kernel without tp_btf (or kprobes) would: `BPF.load({ disable })`.
 */
export function withToolSpec(tool: string, body: string): any {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bpfkit-${tool}-script-`));
  try {
    const file = path.join(dir, 'script.mts');
    fs.writeFileSync(file, `
      (globalThis as { __bpfkitCatalogue?: boolean }).__bpfkitCatalogue = true; // define the tool, don't run it
      const { BPF } = await import('${root}/lib/bpf.ts');
      const { definedTools } = await import('${root}/lib/cli/index.ts');
      await import('${findToolFile(tool)}');
      const spec = definedTools().find(t => t.name === '${tool}')!;
      ${body}
    `);
    const r = spawnSync(process.execPath, [launcher, file], { encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) throw new Error(`the script failed (${r.status}):\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
