// Paths read in BPF by bpf-c/include/bpfkit_path.h (struct bpfkit_path: components innermost first).

/** A struct bpfkit_path as the BTF decoder gives it. */
export interface BpfPath { depth: number; truncated: number; names: string[] | Uint8Array[] | unknown }

/** "/tmp/x"; a path deeper than the BPF side reads starts with ".../". */
export function bpfPath(p: BpfPath): string {
  const names = (p.names as unknown[]).slice(0, p.depth).map(n => (typeof n === 'string' ? n : Buffer.from(n as Uint8Array).toString('utf8').replace(/\0.*$/s, '')));
  const joined = names.reverse().join('/');
  return (p.truncated ? '...' : '') + '/' + joined;
}
