// Shared helpers for kernel tests: run tools as child processes, wait for their output, cause work.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

/** Starts tools/<sub>/<tool>.ts with args, the way a user does (through the launcher). */
export function startTool(tool: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [launcher, findToolFile(tool), ...args], {
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

function track(child: ChildProcess, label: string): Running {
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
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
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
      return exited;
    },
  };
}

/** Runs a tool to completion (for interval/count runs and bad input). */
export function runTool(tool: string, args: string[], opts: { timeoutMs?: number; uid?: number } = {}) {
  const r = spawnSync(process.execPath, [launcher, findToolFile(tool), ...args], {
    cwd: root, encoding: 'utf8', timeout: opts.timeoutMs ?? 30000, uid: opts.uid, gid: opts.uid,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Each argument list is a usage error: exit 2, the first line "<tool>: ...", no stack trace. */
export function expectUsageErrors(tool: string, argLists: string[][]): void {
  for (const args of argLists) {
    const r = runTool(tool, args);
    expect([args, r.code]).toEqual([args, 2]);
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^${tool}: `));
    expect(r.stderr).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
  }
}

/** Run as nobody: exactly the one line saying root or CAP_BPF+CAP_PERFMON is needed, exit 1. */
export function expectRefusedUnprivileged(tool: string): void {
  const r = runTool(tool, [], { uid: 65534 });
  expect({ tool, code: r.code, stderr: r.stderr })
    .toEqual({ tool, code: 1, stderr: `${tool}: needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs\n` });
}

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

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Whether a process holds a BPF link: it has attached its programs (tools that print nothing until the end). */
export function attached(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fdinfo`).some(fd => {
      try {
        return /^link_type:/m.test(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Waits until every tracer still running has attached (holds a BPF link), at most 30 s, then 200 ms more. */
export async function untilAttached(tracers: Running[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (tracers.some(t => t.child.exitCode === null && !attached(t.child.pid!)) && Date.now() < deadline) await sleep(50);
  await sleep(200);
}

/** Builds a test program from C source, as the stack tests want it: -O1, frame pointers kept. */
export function buildC(file: string, source: string): void {
  fs.writeFileSync(`${file}.c`, source);
  const cc = spawnSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-o', file, `${file}.c`], { encoding: 'utf8' });
  if (cc.status !== 0 || cc.stderr) throw new Error(`gcc ${file}.c: ${cc.stderr}`);
}
