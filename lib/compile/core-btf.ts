// The kernel types a BPF object's CO-RE relocations need, cut out of the kernel's BTF once per object and
// kernel by `bpftool gen min_core_btf` (BTFGen) and kept in the cache. libbpf relocates against that
// small file (btf_custom_path) instead of reading and searching the whole kernel BTF at every start:
// on Linux 6.18 (5.5 MB of BTF) that is ~15 ms of CPU and ~11 MiB of peak memory a start.
// Used only where the kernel has no module BTF: reading the kernel's own BTF, libbpf also searches the
// modules' types, which a file cut from vmlinux alone cannot stand in for.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contentKey } from './hash.js';
import { runAsync, runSync, type Command, type Outcome } from './run.js';

const btfDir = '/sys/kernel/btf';
const kernelBtf = path.join(btfDir, 'vmlinux');

/** Where this object's types for the running kernel are kept; undefined where they cannot serve. */
function slot(cacheDir: string, objectKey: string): string | undefined {
  let present: string[];
  try {
    present = fs.readdirSync(btfDir);
  } catch {
    return undefined; // no kernel BTF: libbpf says so itself when a program needs it
  }
  if (present.length !== 1 || present[0] !== 'vmlinux') return undefined;
  const kernel = contentKey(os.release(), os.version(), String(fs.statSync(kernelBtf).size)).slice(0, 16);
  return path.join(cacheDir, 'btf', `${objectKey}-${kernel}.btf`);
}

/** The bpftool run that writes `out` from the object `elf` (written beside it), and how to finish. */
function generation(file: string, elf: Buffer): { cmd: Command; done(r: Outcome): string | undefined; cleanup(): void } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(`${tmp}.o`, elf);
  const cleanup = () => {
    fs.rmSync(`${tmp}.o`, { force: true });
    fs.rmSync(`${tmp}.btf`, { force: true });
  };
  return {
    cleanup,
    cmd: { cmd: 'bpftool', args: ['gen', 'min_core_btf', kernelBtf, `${tmp}.btf`, `${tmp}.o`] },
    done(r) {
      fs.rmSync(`${tmp}.o`, { force: true });
      // an empty file remembers that this object cannot have one (bpftool refused it): the full BTF serves
      if (r.status !== 0) fs.writeFileSync(`${tmp}.btf`, '');
      fs.renameSync(`${tmp}.btf`, file);
      return r.status === 0 ? file : undefined;
    },
  };
}

const usable = (file: string) => (fs.statSync(file).size > 0 ? file : undefined);

/**
 * The file for libbpf's btf_custom_path: this object's kernel types, made on first use (one bpftool run,
 * ~0.1 s); undefined where the full kernel BTF must serve (module BTF present, no bpftool, a refusal).
 */
export function coreBtfFor(cacheDir: string, objectKey: string, elf: Buffer): string | undefined {
  const file = slot(cacheDir, objectKey);
  if (!file) return undefined;
  try {
    return usable(file);
  } catch { /* not made yet */ }
  let g: ReturnType<typeof generation> | undefined;
  try {
    g = generation(file, elf);
    return g.done(runSync(g.cmd));
  } catch {
    g?.cleanup();
    return undefined; // no bpftool, or a read-only cache: the full kernel BTF serves
  }
}

/** Not to be offered again: libbpf could not use it (the whole kernel BTF served). */
export function discardCoreBtf(file: string): void {
  try {
    fs.writeFileSync(file, '');
  } catch { /* read-only cache */ }
}

/** The same made ahead of time, without blocking (setup's precompile). */
export async function prepareCoreBtf(cacheDir: string, objectKey: string, elf: Buffer): Promise<void> {
  const file = slot(cacheDir, objectKey);
  if (!file || fs.existsSync(file)) return;
  let g: ReturnType<typeof generation> | undefined;
  try {
    g = generation(file, elf);
    g.done(await runAsync(g.cmd));
  } catch {
    g?.cleanup(); // made at first use instead
  }
}
