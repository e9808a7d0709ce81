// A precompiled bpfkit.h (with vmlinux.h and libbpf's headers): parsing those ~150k lines is most of a
// cold compile. One PCH per toolchain + header contents + flags, kept in the cache dir next to the
// objects. A compile that finds none compiles from the headers, then starts building it in the
// background (under a lock file, so one process builds it) for the compiles after it: nobody waits
// for a PCH, and the object is the same byte for byte either way.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

/** A lock older than this is a builder that died without removing it (a build takes 1-3 s). */
const STALE_MS = 120_000;
/** PCHs kept (~15 MB each): checkouts or toolchains in use at once; older ones are removed. */
const KEEP_PCHS = 4;
/** After a failed build, compiles go without a PCH this long before one is tried again. */
const RETRY_FAILED_MS = 600_000;

const requireBuiltin = createRequire(import.meta.url);

const leadingComments = /^(\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/;

/**
 * Whether `text` starts (after comments) with #include <bpfkit.h>, or with one of bpfkit's own headers in
 * `includeDir` that itself starts so (after its include guard; bpfkit_net.h, bpfkit_comm_hist.h...): then
 * bpfkit.h comes before anything else and the PCH stands for it exactly.
 */
export function startsWithBpfkitInclude(text: string, includeDir?: string, depth = 0): boolean {
  const rest = text.replace(leadingComments, '');
  if (/^#\s*include\s*[<"]bpfkit\.h[>"]/.test(rest)) return true;
  const header = /^#\s*include\s*[<"](bpfkit_\w+\.h)[>"]/.exec(rest)?.[1];
  if (!header || !includeDir || depth > 2) return false;
  let own: string;
  try {
    own = fs.readFileSync(path.join(includeDir, header), 'utf8');
  } catch {
    return false;
  }
  // its guard (#ifndef X / #define X) defines nothing bpfkit.h looks at
  const body = own.replace(leadingComments, '');
  const afterGuard = body.replace(/^#\s*ifndef\s+(\w+)\s*\n\s*#\s*define\s+\1[ \t]*\n/, '');
  if (afterGuard === body) return false; // no guard first
  return startsWithBpfkitInclude(afterGuard, includeDir, depth + 1);
}

/** clang's complaints about the PCH itself (stale, corrupt, other flags), as opposed to the user's code. */
export function isPchTrouble(stderr: string, pchFile: string): boolean {
  return stderr.includes(pchFile) || /precompiled header|PCH file|AST file/i.test(stderr);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock whose builder is gone: its pid is dead, or it is too old to be a build in progress. */
function lockIsStale(lock: string): boolean {
  try {
    const age = Date.now() - fs.statSync(lock).mtimeMs;
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    return age > STALE_MS || (pid > 0 && !pidAlive(pid)) || (!pid && age > 5000);
  } catch {
    return false; // gone already
  }
}

export interface PchSpec {
  /** Cache directory the PCH lives in. */
  dir: string;
  /** Content key: changes with the toolchain, the headers and the flags. */
  key: string;
  clang: string;
  /** Compile flags; the PCH is built with exactly these. */
  flags: string[];
  header: string;
}

export const pchFile = (spec: PchSpec) => path.join(spec.dir, `${spec.key}.pch`);

// The builder is a detached shell so that it finishes (rename, unlock) even if this process exits
// first, as a one-shot script does. Arguments: clang tmp final lock failed, then clang's arguments.
// It runs niced: on a busy machine the compile that is waiting goes first. A clang error
// (status < 128) leaves a .failed marker, so that compiles do not retry at once.
const BUILDER = 'clang=$1 tmp=$2 final=$3 lock=$4 failed=$5; shift 5\n' +
  'if nice -n 10 "$clang" "$@" -o "$tmp" 2>"$tmp.err"; then mv -f "$tmp" "$final"; else st=$?; [ "$st" -lt 128 ] && mv -f "$tmp.err" "$failed"; fi\n' +
  'rm -f "$tmp" "$tmp.err" "$lock"';

/** The PCH's path when it is built, else undefined. */
export function readyPch(spec: PchSpec): string | undefined {
  const file = pchFile(spec);
  return fs.existsSync(file) ? file : undefined;
}

/**
 * Starts building the PCH in the background, unless another process is building it or a build
 * failed a moment ago. Called after a compile without it, so that this compile is not slowed down.
 */
export function startPchBuild(spec: PchSpec): void {
  const file = pchFile(spec);
  const lock = `${file}.lock`;
  const failed = `${file}.failed`;
  try {
    if (Date.now() - fs.statSync(failed).mtimeMs < RETRY_FAILED_MS) return;
  } catch { /* no failed build */ }
  let fd: number;
  try {
    fs.mkdirSync(spec.dir, { recursive: true });
    if (fs.existsSync(file)) return;
    if (fs.existsSync(lock) && lockIsStale(lock)) fs.rmSync(lock, { force: true });
    fd = fs.openSync(lock, 'wx');
  } catch {
    return; // being built by another process, or a read-only cache
  }
  try {
    sweep(spec.dir);
    const tmp = `${file}.${process.pid}.tmp`;
    const child = (requireBuiltin('node:child_process') as typeof import('node:child_process')).spawn('/bin/sh',
      ['-c', BUILDER, 'bpfkit-pch', spec.clang, tmp, file, lock, failed, ...spec.flags, '-x', 'c-header', spec.header],
      { detached: true, stdio: 'ignore' });
    child.on('error', () => fs.rmSync(lock, { force: true }));
    child.unref();
    fs.writeSync(fd, String(child.pid ?? ''));
  } catch {
    fs.rmSync(lock, { force: true });
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes old PCHs beyond KEEP_PCHS and what killed builders left; open files stay readable to their users. */
function sweep(dir: string): void {
  const entries = fs.readdirSync(dir).map(f => {
    try {
      return { f, mtime: fs.statSync(path.join(dir, f)).mtimeMs };
    } catch {
      return { f, mtime: 0 };
    }
  });
  const pchs = entries.filter(e => e.f.endsWith('.pch')).sort((a, b) => b.mtime - a.mtime);
  const leftovers = entries.filter(e => /\.(tmp|err)$/.test(e.f) && Date.now() - e.mtime > STALE_MS);
  for (const { f } of [...pchs.slice(KEEP_PCHS - 1), ...leftovers]) fs.rmSync(path.join(dir, f), { force: true });
}

/** Removes a PCH clang refused (a header touched since, a corrupt file): the next compile builds it again. */
export function discardPch(file: string): void {
  fs.rmSync(file, { force: true });
}
