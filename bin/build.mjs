// npm run build: the library as JS with .d.ts files (dist/lib: what `import { BPF } from 'bpfkit'` loads)
// and the index of vmlinux.h that compiles cut it with (dist/vmlinux); only these with --lib, as npm pack does;
// a bundle of every tool and command (in the cache: what they start from), the catalogue manifest, and, unless
// --no-precompile, every tool's BPF object in the compile cache so that a first run does not wait for clang.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildBundles, root } from './bundle.mjs';

const node = process.execPath;
const run = (what, args, stdout = 'inherit') => {
  const r = spawnSync(node, args, { cwd: root, stdio: ['ignore', stdout, 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write(`build: ${what} failed\n`);
    process.exit(1);
  }
};

fs.rmSync(path.join(root, 'dist', 'lib'), { recursive: true, force: true });
run('tsc', [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')]);
run('the vmlinux.h index', [path.join(root, 'bin', 'bpfkit-node.mjs'), path.join(root, 'bin', 'vmlinux-index.ts')]);
if (process.argv.includes('--lib')) process.exit(0); // npm pack: the package builds its bundles where it runs

const entries = ['bin/cli.ts', 'bin/precompile.ts', 'bin/docs.ts', 'test/vm/lane.ts'].map(f => path.join(root, f));
for (const sub of fs.readdirSync(path.join(root, 'tools'))) {
  const dir = path.join(root, 'tools', sub);
  if (fs.statSync(dir).isDirectory()) for (const f of fs.readdirSync(dir)) if (f.endsWith('.ts')) entries.push(path.join(dir, f));
}
await buildBundles(entries);

run('the catalogue', [path.join(root, 'bin', 'bpfkit-node.mjs'), path.join(root, 'bin', 'cli.ts'), 'catalogue'], 'ignore');
if (!process.argv.includes('--no-precompile')) run('precompile', [path.join(root, 'bin', 'bpfkit-node.mjs'), path.join(root, 'bin', 'precompile.ts')]);
