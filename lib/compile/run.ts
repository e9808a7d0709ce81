// The compile steps are written once, as generators that yield the commands they need run; a
// synchronous driver (spawnSync, for BPF.load) and an asynchronous one (spawn, so that several
// compiles can share the cores) carry them out.
import { createRequire } from 'node:module';
import { CompileError } from './errors.js';

export interface Command {
  cmd: string;
  args: string[];
  input?: string;
}
export interface Outcome {
  /** Exit status; null when the command was killed by a signal. */
  status: number | null;
  stdout: Buffer;
  stderr: string;
}
export type Steps<T> = Generator<Command, T, Outcome>;

// child_process is loaded on the first compile only: a warm start (cached object) never runs clang
const requireBuiltin = createRequire(import.meta.url);
const childProcess = () => requireBuiltin('node:child_process') as typeof import('node:child_process');

function missing(cmd: string, e: unknown): Error {
  if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return new CompileError(`${cmd} not found: run ./setup.sh (it installs clang and llvm)`, '');
  return e as Error;
}

export function runSync(c: Command): Outcome {
  const r = childProcess().spawnSync(c.cmd, c.args, { input: c.input, maxBuffer: 256 << 20 });
  if (r.error) throw missing(c.cmd, r.error);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

export function runAsync(c: Command): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(c.cmd, c.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', e => reject(missing(c.cmd, e)));
    child.on('close', status => resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => { /* clang exited before reading all its input: its status says why */ });
    child.stdin.end(c.input ?? '');
  });
}

/** Runs the steps with spawnSync; a failure to run a command is thrown into them (their finally blocks run). */
export function driveSync<T>(steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    let outcome: Outcome;
    try {
      outcome = runSync(next.value);
    } catch (e) {
      next = steps.throw(e);
      continue;
    }
    next = steps.next(outcome);
  }
  return next.value;
}

export async function driveAsync<T>(steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    let outcome: Outcome;
    try {
      outcome = await runAsync(next.value);
    } catch (e) {
      next = steps.throw(e);
      continue;
    }
    next = steps.next(outcome);
  }
  return next.value;
}
