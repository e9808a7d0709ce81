// npm run bench: every benchmark in bench/, each printing its figures against libbpf-tools (or bpftrace)
// where one exists. A new bench is a new file here: nothing to register.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';

const dir = path.join(projectRoot, 'bench');
const only = process.argv.slice(2); // `npm run bench -- exit stacks`: just those
for (const b of fs.readdirSync(dir).filter(f => f.endsWith('.ts') && f !== 'run.ts').sort()) {
  if (only.length && !only.includes(b.replace(/\.ts$/, ''))) continue;
  spawnSync(path.join(projectRoot, 'bin', 'bpfkit-node'), [path.join(dir, b)], { stdio: 'inherit' });
}
