// A small memory cgroup for tests that need memory pressure without putting the host under any:
// cgroup v2's memory.max where the memory controller is on the unified hierarchy, else cgroup v1's
// memory.limit_in_bytes, as a child of the cgroup this test process is in (so the machine's own
// limits still hold above it). Workloads in it read a file through the page cache: clean pages, which
// reclaim frees at once. (Writing instead fills the cgroup with dirty pages; on cgroup v1 nothing
// throttles that per cgroup, and when writeback lags, the cgroup's OOM killer ends the writer.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface MemoryCgroup {
  dir: string;
  version: 1 | 2;
  /** Times the limit was hit (v1 memory.failcnt, v2 memory.events "max"). */
  limitHits(): number;
  /**
   * Starts `command` in the cgroup, held at a gate until release(): its PID is known (and exists)
   * before it allocates, for a tracer's -p.
   */
  gated(command: string[]): { child: ChildProcess; pid: number; release(): void; exited: Promise<number | null> };
  remove(): void;
}

/** Writes a file of `mib` MiB to disk (from outside any test cgroup) and drops it from the page cache. */
export function cleanFile(file: string, mib: number): void {
  const r = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fsync', 'status=none'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd: ${r.stderr}`);
  dropFromCache(file);
}

/** Drops a file's clean pages from the page cache (posix_fadvise DONTNEED): the next read charges them anew. */
export function dropFromCache(file: string): void {
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

function memoryHierarchy(): { root: string; version: 1 | 2; own: string } {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map(l => l.split(':'));
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      if (fs.readFileSync(path.join(root, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
        return { root, version: 2, own: lines.find(l => l[0] === '0')?.[2] ?? '/' };
      }
    } catch { /* not a v2 mount */ }
  }
  const v1 = lines.find(l => l[1].split(',').includes('memory'));
  if (!v1 || !fs.existsSync('/sys/fs/cgroup/memory')) throw new Error('no memory cgroup controller on this machine');
  return { root: '/sys/fs/cgroup/memory', version: 1, own: v1[2] };
}

/** A memory cgroup limited to `limitBytes`. */
export function memoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  const h = memoryHierarchy();
  const dir = path.join(h.root, h.own, `${name}-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  if (h.version === 2) {
    fs.writeFileSync(path.join(dir, 'memory.max'), String(limitBytes));
    try {
      fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    } catch { /* no swap accounting */ }
  } else {
    fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
  }
  return {
    dir,
    version: h.version,
    limitHits() {
      if (h.version === 1) return Number(fs.readFileSync(path.join(dir, 'memory.failcnt'), 'utf8'));
      return Number(/^max (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'memory.events'), 'utf8'))?.[1] ?? 0);
    },
    gated(command) {
      const procs = path.join(dir, 'cgroup.procs');
      // the shell joins the cgroup, waits for a line on stdin, then becomes the command (same PID)
      const script = `echo $$ > '${procs}' && read go && exec "$@"`;
      const child = spawn('sh', ['-c', script, 'sh', ...command], { stdio: ['pipe', 'ignore', 'pipe'] });
      const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
      return { child, pid: child.pid!, release: () => void child.stdin!.end('go\n'), exited };
    },
    remove() {
      // tasks have exited; the page cache they charged moves to the parent when the cgroup goes
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(dir);
          return;
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        }
      }
    },
  };
}
