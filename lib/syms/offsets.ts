// Where a uprobe on a library function goes: its file offset, found with our ELF reader. libbpf's own
// lookup by name refuses some symbols this machine's libc has twice (pthread_create@@GLIBC_2.34 and
// pthread_create@GLIBC_2.2.5 at one address), so the tools probing libc attach by offset.
import { ElfFile } from './elf.js';
import { resolveLibrary } from './libraries.js';

/** The binary's path and the file offset of `symbol` in it, for BPF.attachUprobe; throws naming what is missing. */
export function functionOffset(binary: string, symbol: string, pid?: number): { binary: string; offset: number } {
  const path = resolveLibrary(binary, pid);
  const elf = ElfFile.open(path);
  const fn = elf.functionSymbol(symbol);
  const offset = fn && elf.fileOffset(fn.value);
  if (offset === undefined) throw new Error(`${path} has no function ${symbol}`);
  return { binary: path, offset };
}
