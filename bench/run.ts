// npm run bench: every benchmark, each printing its figures against libbpf-tools where one exists.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';

for (const b of ['ringbuf.ts', 'startup.ts', 'compile.ts', 'stacks.ts', 'wave-disk.ts']) {
  spawnSync(path.join(projectRoot, 'bin', 'bpfkit-node'), [path.join(projectRoot, 'bench', b)], { stdio: 'inherit' });
}
