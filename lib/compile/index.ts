// C text -> BPF ELF. The compiler sits behind a small interface (Debian clang today; a wasm clang with
// a BPF backend could drop in). Results are cached by content: source + flags + generated tracepoint
// structs + compiler identity + header contents. Programs that start with #include <bpfkit.h> are
// compiled against a precompiled bpfkit.h (pch.ts): most of a cold compile was parsing vmlinux.h. Until
// that PCH is built, and for programs it cannot serve, vmlinux.h is cut to what the program needs
// (vmlinux-cut.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropDebugSections } from './elf.js';
import { CompileError } from './errors.js';
import { discardPch, isPchTrouble, readyPch, startPchBuild, startsWithBpfkitInclude, type PchSpec } from './pch.js';
import { driveAsync, driveSync, runSync, type Steps } from './run.js';
import { contentKey } from './hash.js';
import { tracepointStructs } from './tracepoints.js';
import { vmlinuxCutFor } from './vmlinux-cut.js';
import { eachInParallel } from '../util/parallel.js';
import { statKey, writeAtomic } from '../util/files.js';

export { CompileError };

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
  /** The same without blocking, so that several compiles can run at once (compileMany). */
  compileAsync?(req: CompileRequest, preamble: string): Promise<Buffer>;
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
/** The index of bpf-c/include/vmlinux.h that `npm run build` and npm pack make (vmlinux-cut.ts). */
export const shippedIndexDir = path.join(projectRoot, 'dist', 'vmlinux');

/** The text of a tool's long BPF C kept beside the headers, bpf-c/<file> (e.g. "memleak.bpf.c"). */
export function bpfSource(file: string): string {
  return fs.readFileSync(path.join(projectRoot, 'bpf-c', file), 'utf8');
}
const libbpfIncludeDir = '/usr/include/bpf';

/** BPFKIT_CACHE, else $XDG_CACHE_HOME/bpfkit, else ~/.cache/bpfkit. */
export function cacheDir(): string {
  return process.env.BPFKIT_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bpfkit');
}

/** Bump when the clang flags or preamble rules change: cached objects must not be reused then. */
const COMPILE_FLAGS_VERSION = 'flags-3';

const targetArch = process.arch === 'arm64' ? 'arm64' : process.arch === 'x64' ? 'x86' : process.arch;

function which(cmd: string): string {
  for (const dir of (process.env.PATH || '/usr/bin').split(':')) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return fs.realpathSync.native(p);
  }
  return cmd;
}

/** Memoises an expensive fingerprint in the cache dir, keyed by cheap stat() identities. */
function memoFingerprint(name: string, statPaths: string[], compute: () => string): string {
  const dir = cacheDir();
  // one memo per set of files: checkouts sharing the cache would otherwise overwrite each other's
  const which = contentKey(...statPaths).slice(0, 12);
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

function headerFiles(dirs: string[]): string[] {
  const files: string[] = [];
  for (const dir of dirs) {
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

/** Cache keys: a content hash without node:crypto, which would cost every start ~13 ms to load. */
const sha = contentKey;

export interface ClangOptions {
  /** false: every program is compiled from the headers (the measurement baseline). Default true. */
  usePch?: boolean;
  /** Where bpfkit.h and vmlinux.h are; default bpf-c/include of this package. */
  includeDir?: string;
  /** false: without a PCH, the whole vmlinux.h is parsed, not the cut of it a program needs. Default true. */
  useCut?: boolean;
}

export class ClangCompiler implements Compiler {
  private fp?: string;
  readonly usePch: boolean;
  readonly useCut: boolean;
  readonly includeDir: string;
  constructor(readonly clang = 'clang', opts: ClangOptions = {}) {
    this.usePch = opts.usePch ?? true;
    this.useCut = opts.useCut ?? true;
    this.includeDir = opts.includeDir ?? includeDir;
  }

  fingerprint(): string {
    if (this.fp) return this.fp;
    const clangPath = which(this.clang);
    const headers = headerFiles([this.includeDir, libbpfIncludeDir]);
    // Memo per include dir: two compilers with different headers share one cache dir.
    this.fp = memoFingerprint(`toolchain-${sha(this.includeDir).slice(0, 12)}`, [clangPath, ...headers], () => {
      const v = runSync({ cmd: this.clang, args: ['--version'] });
      if (v.status !== 0) throw new CompileError(`${this.clang} --version failed`, v.stderr);
      return contentKey(v.stdout, ...headers.flatMap(f => [f, fs.readFileSync(f)]));
    });
    return this.fp;
  }

  compile(req: CompileRequest, preamble: string): Buffer {
    return driveSync(this.steps(req, preamble));
  }

  compileAsync(req: CompileRequest, preamble: string): Promise<Buffer> {
    return driveAsync(this.steps(req, preamble));
  }

  /** clang's arguments for a program with these cflags, before its input and output. */
  flags(cflags: string[] = []): string[] {
    return ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${targetArch}`, '-I', this.includeDir, ...multiarchIncludes(),
      '-Wall', '-Wno-unused-variable', '-Wno-unused-function', '-Wno-unused-but-set-variable',
      '-Werror=implicit-int', '-Werror=implicit-function-declaration',
      '-fno-color-diagnostics', ...cflags];
  }

  private *steps(req: CompileRequest, preamble: string): Steps<Buffer> {
    const flags = this.flags(req.cflags ?? []);
    // The preamble (vmlinux types + generated tracepoint structs) comes first; #line makes
    // diagnostics point at the user's own lines. With the PCH, bpfkit.h comes before the preamble:
    // the generated structs need only vmlinux's integer types, and their #include <vmlinux.h> is a no-op.
    const src = `${preamble}#line 1 "${req.name}"\n${req.text}`;
    // cflags could change what the headers mean (-D...): those programs are compiled from the headers.
    const pchSpec: PchSpec | undefined = this.usePch && !req.cflags?.length && startsWithBpfkitInclude(req.text, this.includeDir)
      ? { dir: path.join(cacheDir(), 'pch'), key: sha(this.fingerprint(), COMPILE_FLAGS_VERSION, ...flags), clang: this.clang, flags, header: path.join(this.includeDir, 'bpfkit.h') }
      : undefined;
    const pch = pchSpec && readyPch(pchSpec);
    const out = ['-c', '-x', 'c', '-', '-o', '-'];
    if (pch) {
      const r = yield { cmd: this.clang, args: [...flags, '-include-pch', pch, ...out], input: src };
      if (r.status === 0) return dropDebugSections(r.stdout);
      if (!isPchTrouble(r.stderr, pch)) throw compileError(req, r.stderr);
      discardPch(pch);
    }
    // No PCH (yet): vmlinux.h cut to the types this program reaches stands for the whole header. A cut
    // that missed a type fails to compile; the whole header then decides, and words any error.
    const cut = this.useCut ? vmlinuxCutFor({ source: src, cflags: req.cflags ?? [], includeDir: this.includeDir, cacheDir: cacheDir(), shippedIndexDir }) : undefined;
    const viaCut = cut === undefined ? undefined : yield { cmd: this.clang, args: [...flags, ...out], input: cut + src };
    const r = viaCut?.status === 0 ? viaCut : yield { cmd: this.clang, args: [...flags, ...out], input: src };
    if (r.status !== 0) throw compileError(req, r.stderr);
    if (pchSpec) startPchBuild(pchSpec);
    // libbpf needs .BTF/.BTF.ext, not DWARF: dropping it makes objects ~15x smaller.
    return dropDebugSections(r.stdout);
  }
}

function compileError(req: CompileRequest, stderr: string): CompileError {
  const diag = stderr.trim();
  const first = diag.split('\n').filter(l => /error/.test(l)).slice(0, 3).join('\n') || diag.split('\n')[0];
  return new CompileError(`cannot compile ${req.name}:\n${clipDiagnostics(diag)}`, diag || first);
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

interface CacheSlot {
  preamble: string;
  key: string;
  file: string;
  hit?: CompileResult;
}

function cacheSlot(req: CompileRequest, compiler: Compiler): CacheSlot {
  const preamble = tracepointStructs(req.text);
  const key = sha(compiler.fingerprint(), JSON.stringify(req.cflags ?? []), targetArch, COMPILE_FLAGS_VERSION, preamble, req.name, req.text);
  const file = path.join(cacheDir(), 'obj', `${key}.o`);
  try {
    return { preamble, key, file, hit: { elf: fs.readFileSync(file), key, cached: true } };
  } catch {
    return { preamble, key, file };
  }
}

function store(slot: CacheSlot, elf: Buffer): CompileResult {
  try {
    writeAtomic(slot.file, elf);
  } catch { /* read-only cache: still usable */ }
  return { elf, key: slot.key, cached: false };
}

/** Compiles (or fetches from the cache) a BPF C program. */
export function compile(req: CompileRequest, compiler: Compiler = defaultCompiler): CompileResult {
  const slot = cacheSlot(req, compiler);
  return slot.hit ?? store(slot, compiler.compile(req, slot.preamble));
}

/** compile() without blocking: clang runs as a child process while the caller goes on. */
export async function compileAsync(req: CompileRequest, compiler: Compiler = defaultCompiler): Promise<CompileResult> {
  const slot = cacheSlot(req, compiler);
  if (slot.hit) return slot.hit;
  return store(slot, compiler.compileAsync ? await compiler.compileAsync(req, slot.preamble) : compiler.compile(req, slot.preamble));
}

export interface CompileManyOptions {
  /** Compiles at once; the default is one per CPU. */
  parallel?: number;
  compiler?: Compiler;
  /** Called as each compile starts and ends (progress, and how many are in flight). */
  onStart?: (req: CompileRequest) => void;
  onEnd?: (req: CompileRequest, result: CompileResult | Error) => void;
}

/** Compiles many programs, `parallel` at a time; each entry is the program's result or its error. */
export async function compileMany(reqs: CompileRequest[], opts: CompileManyOptions = {}): Promise<(CompileResult | Error)[]> {
  const results: (CompileResult | Error)[] = new Array(reqs.length);
  await eachInParallel(reqs, opts.parallel ?? os.availableParallelism(), async (req, i) => {
    opts.onStart?.(req);
    try {
      results[i] = await compileAsync(req, opts.compiler);
    } catch (e) {
      results[i] = e as Error;
    }
    opts.onEnd?.(req, results[i]!);
  });
  return results;
}
