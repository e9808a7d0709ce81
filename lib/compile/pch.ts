// A precompiled bpfkit.h (with vmlinux.h and libbpf's headers): parsing those ~150k lines is most of a
// cold compile. One PCH per toolchain + header contents + flags, kept in the cache dir next to the
// objects. Several processes may want it at once: one builds it under a lock file, the others wait for
// it (a crashed builder's lock is taken over), and any trouble means compiling without it.
import fs from 'node:fs';
import path from 'node:path';
import type { Steps } from './run.js';

/** A lock older than this is a builder that died without removing it (a build takes 1-3 s). */
const STALE_LOCK_MS = 120_000;
const POLL_MS = 25;
/** PCHs kept (~15 MB each): checkouts or toolchains in use at once; older ones are removed. */
const KEEP_PCHS = 4;

/** Whether `text` starts (after comments) with #include <bpfkit.h>: then the PCH stands for it exactly. */
export function startsWithBpfkitInclude(text: string): boolean {
  const rest = text.replace(/^(\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/, '');
  return /^#\s*include\s*[<"]bpfkit\.h[>"]/.test(rest);
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
    const st = fs.statSync(lock);
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    return Date.now() - st.mtimeMs > STALE_LOCK_MS || (pid > 0 && !pidAlive(pid));
  } catch {
    return false; // gone already: not ours to remove
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

/** Steps that yield the PCH's path, building it if needed; undefined means: compile without one. */
export function* ensurePch(spec: PchSpec): Steps<string | undefined> {
  const file = path.join(spec.dir, `${spec.key}.pch`);
  const lock = `${file}.lock`;
  const failed = `${file}.failed`;
  for (;;) {
    if (fs.existsSync(file)) return file;
    if (fs.existsSync(failed)) return undefined; // this toolchain cannot build it: do not retry at every compile
    let fd: number;
    try {
      fs.mkdirSync(spec.dir, { recursive: true });
      fd = fs.openSync(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined; // read-only cache
      // Another process is building it: wait for its PCH rather than compile the slow way meanwhile.
      while (fs.existsSync(lock) && !fs.existsSync(file)) {
        if (lockIsStale(lock)) {
          fs.rmSync(lock, { force: true });
          break;
        }
        yield { sleepMs: POLL_MS };
      }
      continue;
    }
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      if (fs.existsSync(file)) return file; // built between our check and our lock
      const r = yield { cmd: spec.clang, args: [...spec.flags, '-x', 'c-header', spec.header, '-o', tmp] };
      if (r.status === 0) {
        fs.renameSync(tmp, file);
        try {
          pruneOldPchs(spec.dir);
        } catch { /* pruning is housekeeping */ }
        return file;
      }
      if (r.status !== null) fs.writeFileSync(failed, r.stderr); // a signal is no verdict on the toolchain
      return undefined;
    } catch {
      return undefined;
    } finally {
      fs.rmSync(tmp, { force: true });
      fs.rmSync(lock, { force: true });
    }
  }
}

function pruneOldPchs(dir: string): void {
  const built = (f: string) => {
    try {
      return fs.statSync(path.join(dir, f)).mtimeMs;
    } catch {
      return 0; // removed by another process meanwhile
    }
  };
  const pchs = fs.readdirSync(dir).filter(f => f.endsWith('.pch')).map(f => ({ f, built: built(f) })).sort((a, b) => b.built - a.built);
  for (const { f } of pchs.slice(KEEP_PCHS)) fs.rmSync(path.join(dir, f), { force: true }); // open in a running clang: still readable
}

/** Removes a PCH clang refused (a header touched since, a corrupt file): the next compile builds it again. */
export function discardPch(file: string): void {
  fs.rmSync(file, { force: true });
}
