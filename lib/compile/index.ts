// C text -> BPF ELF. The compiler sits behind a small interface (Debian clang today; a wasm clang with
// a BPF backend could drop in). Results are cached by content: source + flags + generated tracepoint
// structs + compiler identity + header contents.
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tracepointStructs } from './tracepoints.js';

export interface CompileRequest {
  text: string;
  /** Name shown in diagnostics, e.g. "execsnoop.bpf.c". */
  name: string;
  cflags?: string[];
}

export interface Compiler {
  /** Identity that changes whenever the output could change (name, version, binary). */
  fingerprint(): string;
  /** Compiles C text to a BPF object, or throws CompileError. */
  compile(req: CompileRequest, preamble: string): Buffer;
}

export class CompileError extends Error {
  constructor(message: string, readonly diagnostics: string) {
    super(message);
    this.name = 'CompileError';
  }
}

/** bpf-c/include's home: above this module, or BPFKIT_ROOT (a file bundled outside the project). */
function findRoot(): string {
  if (process.env.BPFKIT_ROOT) return process.env.BPFKIT_ROOT;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'bpf-c', 'include', 'bpfkit.h'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bpfkit: cannot find bpf-c/include/bpfkit.h above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const projectRoot = findRoot();
export const includeDir = path.join(projectRoot, 'bpf-c', 'include');
const libbpfIncludeDir = '/usr/include/bpf';

/** BPFKIT_CACHE, else $XDG_CACHE_HOME/bpfkit, else ~/.cache/bpfkit. */
export function cacheDir(): string {
  return process.env.BPFKIT_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bpfkit');
}

/** Bump when the clang flags or preamble rules change: cached objects must not be reused then. */
const COMPILE_FLAGS_VERSION = 'flags-2';

const targetArch = process.arch === 'arm64' ? 'arm64' : process.arch === 'x64' ? 'x86' : process.arch;

// child_process is loaded on the first compile only: a warm start (cached object) never runs clang
const requireBuiltin = createRequire(import.meta.url);

/** Runs a command; a missing binary gets an install hint instead of ENOENT. */
function run(cmd: string, args: string[], input?: string) {
  const { spawnSync } = requireBuiltin('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new CompileError(`${cmd} not found: run ./setup.sh (it installs clang and llvm)`, '');
  }
  return r;
}

/** File identity for memoisation: changes when the file is replaced or edited. */
function statKey(p: string): string {
  try {
    const st = fs.statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return `${p}:absent`;
  }
}

function which(cmd: string): string {
  for (const dir of (process.env.PATH || '/usr/bin').split(':')) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return fs.realpathSync(p);
  }
  return cmd;
}

/** Memoises an expensive fingerprint in the cache dir, keyed by cheap stat() identities. */
function memoFingerprint(name: string, statPaths: string[], compute: () => string): string {
  const dir = cacheDir();
  // one memo per set of files: checkouts sharing the cache would otherwise overwrite each other's
  const which = crypto.createHash('sha256').update(statPaths.join('\n')).digest('hex').slice(0, 12);
  const memo = path.join(dir, `${name}-${which}.fingerprint`);
  const stamp = statPaths.map(statKey).join('\n');
  try {
    const [savedStamp, value] = fs.readFileSync(memo, 'utf8').split('\n=\n');
    if (savedStamp === stamp && value) return value;
  } catch { /* first run */ }
  const value = compute();
  try {
    writeAtomic(memo, Buffer.from(`${stamp}\n=\n${value}`));
  } catch { /* read-only cache (e.g. shared into a VM): compute again next time */ }
  return value;
}

function writeAtomic(file: string, data: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function headerFiles(): string[] {
  const files: string[] = [];
  for (const dir of [includeDir, libbpfIncludeDir]) {
    try {
      for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.h')) files.push(path.join(dir, f));
    } catch { /* libbpf-dev missing: clang will say so */ }
  }
  return files;
}

/** libbpf's usdt.bpf.h reaches <asm/errno.h>, which lives in the host's multiarch include dir. */
function multiarchIncludes(): string[] {
  const dir = `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  return fs.existsSync(dir) ? ['-idirafter', dir] : [];
}

export class ClangCompiler implements Compiler {
  private fp?: string;
  constructor(readonly clang = 'clang', readonly strip = 'llvm-strip') {}

  fingerprint(): string {
    if (this.fp) return this.fp;
    const clangPath = which(this.clang);
    const headers = headerFiles();
    this.fp = memoFingerprint('toolchain', [clangPath, ...headers], () => {
      const v = run(this.clang, ['--version']);
      if (v.status !== 0) throw new CompileError(`${this.clang} --version failed`, v.stderr);
      const h = crypto.createHash('sha256');
      h.update(v.stdout);
      for (const f of headers) h.update(f).update(fs.readFileSync(f));
      return h.digest('hex');
    });
    return this.fp;
  }

  compile(req: CompileRequest, preamble: string): Buffer {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-cc-'));
    try {
      const out = path.join(tmp, 'out.o');
      // The preamble (vmlinux types + generated tracepoint structs) comes first; #line makes
      // diagnostics point at the user's own lines.
      const src = `${preamble}#line 1 "${req.name}"\n${req.text}`;
      const args = ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${targetArch}`, '-I', includeDir, ...multiarchIncludes(),
        '-Wall', '-Wno-unused-variable', '-Wno-unused-function', '-Wno-unused-but-set-variable',
        '-Werror=implicit-int', '-Werror=implicit-function-declaration',
        '-fno-color-diagnostics', ...(req.cflags ?? []), '-c', '-x', 'c', '-', '-o', out];
      const r = run(this.clang, args, src);
      if (r.status !== 0) {
        const diag = (r.stderr || '').trim();
        const first = diag.split('\n').filter(l => /error/.test(l)).slice(0, 3).join('\n') || diag.split('\n')[0];
        throw new CompileError(`cannot compile ${req.name}:\n${clipDiagnostics(diag)}`, diag || first);
      }
      // libbpf needs .BTF/.BTF.ext, not DWARF: stripping makes objects ~20x smaller and faster to open.
      const s = run(this.strip, ['-g', out]);
      if (s.status !== 0) throw new CompileError(`${this.strip} failed on ${req.name}`, s.stderr);
      return fs.readFileSync(out);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/** Keeps clang's first errors with their source lines and carets; drops the rest. */
function clipDiagnostics(diag: string): string {
  const lines = diag.split('\n');
  const keep: string[] = [];
  let errors = 0;
  for (const l of lines) {
    if (/^(PLEASE submit a bug report|Stack dump:)/.test(l)) break; // clang crash: its backtrace helps nobody
    if (/: error:/.test(l) && ++errors > 5) break;
    if (/^\d+ errors? generated/.test(l)) continue;
    keep.push(l);
  }
  return keep.join('\n');
}

let defaultCompiler: Compiler = new ClangCompiler();
export function setCompiler(c: Compiler): void {
  defaultCompiler = c;
}

export interface CompileResult {
  elf: Buffer;
  key: string;
  cached: boolean;
}

/** Compiles (or fetches from the cache) a BPF C program. */
export function compile(req: CompileRequest, compiler: Compiler = defaultCompiler): CompileResult {
  const preamble = tracepointStructs(req.text);
  const key = crypto.createHash('sha256')
    .update(compiler.fingerprint()).update('\0')
    .update(JSON.stringify(req.cflags ?? [])).update('\0')
    .update(targetArch).update('\0')
    .update(COMPILE_FLAGS_VERSION).update('\0')
    .update(preamble).update('\0')
    .update(req.name).update('\0')
    .update(req.text)
    .digest('hex').slice(0, 40);
  const file = path.join(cacheDir(), 'obj', `${key}.o`);
  try {
    return { elf: fs.readFileSync(file), key, cached: true };
  } catch { /* miss */ }
  const elf = compiler.compile(req, preamble);
  try {
    writeAtomic(file, elf);
  } catch { /* read-only cache: still usable */ }
  return { elf, key, cached: false };
}
