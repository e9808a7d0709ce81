// Runs a bpfkit TypeScript file — a tool (its shebang leads here through bin/bpfkit-node), bin/cli.ts, a
// bench — as its bundle (bin/bundle.mjs), with node's compile cache in bpfkit's cache directory.
// builtins as bundle.mjs takes them (node's ESM wrapper of fs alone loads ~10 more modules)
const module = process.getBuiltinModule('node:module');
const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
const { pathToFileURL } = process.getBuiltinModule('node:url');
import { bundleFor, cacheDir, root } from './bundle.mjs';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  process.stderr.write('usage: bpfkit-node <file.ts> [args...]\n');
  process.exit(2);
}
let source;
try {
  source = fs.realpathSync.native(script); // one realpath(3), not an lstat per path component
} catch {
  process.stderr.write(`bpfkit-node: no such file: ${script}\n`);
  process.exit(2);
}
// V8's code cache of the bundles: about a third of the start-up of a tool
module.enableCompileCache?.(path.join(cacheDir(), 'v8'));
process.argv = [process.argv[0], source, ...args];
// a file bundled from outside the project finds bpf-c/include through this (lib/compile)
if (path.relative(root, source).startsWith('..')) process.env.BPFKIT_ROOT ??= root;
let bundle;
try {
  bundle = await bundleFor(source);
} catch (e) {
  process.stderr.write(`bpfkit-node: ${e.errors?.[0]?.text ? `${path.basename(source)}: ${e.errors[0].text}` : e.message}\n`);
  process.exit(1);
}
await import(pathToFileURL(bundle).href);
