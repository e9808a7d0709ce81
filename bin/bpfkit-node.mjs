#!/usr/bin/env node
// Runs a bpfkit TypeScript file (a tool's shebang points here): the prebuilt JS in dist/ when it is
// current — starting node with a TypeScript loader costs ~270 ms — otherwise the .ts through tsx.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [script, ...args] = process.argv.slice(2);
if (!script) {
  process.stderr.write('usage: bpfkit-node <file.ts> [args...]\n');
  process.exit(2);
}
const source = path.resolve(script);
process.argv = [process.argv[0], source, ...args];

function newestMtime(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/<same path>.js, if built after the file and after every library source. */
function builtJs() {
  const rel = path.relative(root, source);
  if (rel.startsWith('..') || process.env.BPFKIT_NO_DIST === '1') return undefined;
  const js = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
  try {
    const built = fs.statSync(js).mtimeMs;
    if (built < fs.statSync(source).mtimeMs) return undefined;
    if (built < newestMtime(path.join(root, 'lib'))) return undefined;
    return js;
  } catch {
    return undefined;
  }
}

const js = builtJs();
if (js) {
  await import(pathToFileURL(js).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
}
