// What bpfkit's long-running commands (export, serve) share: their few flags, the ADDR:PORT they
// listen on, and catalogue tools run as children with --json, their records read line by line.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../compile/index.js';

/** One line on stderr, "bpfkit <command>: ...", and the exit code (2: usage). */
export function commandDie(command: string): (msg: string, code: number) => never {
  return (msg, code) => {
    process.stderr.write(`bpfkit ${command}: ${msg}\n`);
    process.exit(code);
  };
}

/**
 * A command's flags, each taking a value (`--listen ADDR:PORT` or `--listen=ADDR:PORT`), named by
 * their long spelling with other spellings as aliases; -h prints the usage and exits 0, anything else
 * exits 2 with one line.
 */
export function commandFlags(command: string, argv: string[], usage: string, flags: Record<string, string[]>): Record<string, string> {
  const die = commandDie(command);
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '-h' || flag === '--help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    const name = Object.keys(flags).find(f => f === flag || flags[f]!.includes(flag));
    if (!name) die(`unknown argument '${a}' (see: bpfkit ${command} --help)`, 2);
    out[name!] = inline ?? argv[++i] ?? die(`${flag} needs a value`, 2);
  }
  return out;
}

/** ADDR:PORT or [IPv6]:PORT; port 0 asks the kernel for a free one. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  return m && port >= 0 && port < 65536 ? { host: m[1] ?? m[2]!, port } : undefined;
}

/** The printable ADDR:PORT a server really listens on. */
export function listeningAt(address: string | { address: string; family: string; port: number } | null, fallback: string): string {
  return typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : fallback;
}

const launcher = path.join(projectRoot, 'bin', 'bpfkit-node.mjs');

/**
 * The node command line that runs a tool file as its shebang does (bin/bpfkit-node): the node options
 * the shebang gives (--lite-mode for the tools whose JS runs once an interval), the launcher, the file.
 */
export function toolCommandLine(file: string): string[] {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(200);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const shebang = head.subarray(0, n).toString('utf8').split('\n')[0]!;
  return [...(/bpfkit-node" --lite-mode /.test(shebang) ? ['--lite-mode'] : []), launcher, file];
}

export interface ToolChild {
  child: ChildProcess;
  /** Events the tool said it lost ("lost N events" on stderr). */
  lost: number;
  /** The last few KiB the tool wrote on stderr. */
  stderrTail(): string;
}

/** Runs a catalogue tool's file as a child (as its shebang would), calling onLine for each stdout line. */
export function spawnTool(file: string, argv: string[], onLine: (line: string) => void): ToolChild {
  const child = spawn(process.execPath, [...toolCommandLine(file), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line) onLine(line);
    }
  });
  let err = '';
  const tc: ToolChild = { child, lost: 0, stderrTail: () => err };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    err = (err + chunk).slice(-8000);
    for (const m of chunk.matchAll(/\blost (\d+)/g)) tc.lost += Number(m[1]);
  });
  return tc;
}
