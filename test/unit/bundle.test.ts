// bin/bundle.mjs: a runnable file's bundle is made on first use, reused while current, remade when any
// file it came from changes, and kept where its code still resolves koffi and its own import.meta.url;
// builtins are taken without node's ESM wrapper, which would load what their lazy exports hide.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const launcher = path.join(root, 'bin', 'bpfkit-node');

function project() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bundle-'));
  fs.writeFileSync(path.join(dir, 'value.ts'), 'export const value: number = 1;\n');
  fs.writeFileSync(path.join(dir, 'main.ts'), `import { value } from './value.js';
import koffi from 'koffi';
import fs from 'node:fs';
import { format } from 'util';
const here: string = import.meta.url;
// node's ESM wrapper of fs would have read fs.promises, which loads this
const lazyLoaded = process.moduleLoadList.includes('NativeModule internal/fs/promises');
process.stdout.write(JSON.stringify({ value, here, koffi: typeof koffi.load, argv: process.argv.slice(2), builtins: format('%s %s', typeof fs.readFileSync, lazyLoaded) }) + '\\n');
`);
  return dir;
}

const run = (file: string, env: NodeJS.ProcessEnv = {}, args: string[] = []) => {
  const r = spawnSync(launcher, [file, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};

test('built on first use, reused while current, remade when an imported file changes', () => {
  const dir = project();
  const cache = path.join(dir, 'cache');
  const main = path.join(dir, 'main.ts');
  expect(run(main, { BPFKIT_CACHE: cache }, ['a', 'b'])).toEqual({ value: 1, here: `file://${main}`, koffi: 'function', argv: ['a', 'b'], builtins: 'function true' });
  const [bundle] = fs.readdirSync(path.join(cache, 'run')).map(d => path.join(cache, 'run', d, 'main.mjs'));
  const built = fs.statSync(bundle).mtimeMs;
  // the build itself used fs.promises; a run of the bundle alone does not load it
  expect(run(main, { BPFKIT_CACHE: cache }).builtins).toBe('function false');
  expect(fs.statSync(bundle).mtimeMs).toBe(built); // current: not rebuilt
  const later = new Date(Date.now() + 2000);
  fs.writeFileSync(path.join(dir, 'value.ts'), 'export const value: number = 2;\n');
  fs.utimesSync(path.join(dir, 'value.ts'), later, later);
  expect(run(main, { BPFKIT_CACHE: cache }).value).toBe(2);
});

test('a user who cannot write the cache gets a private bundle directory', () => {
  const dir = project();
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  const mine = path.join(os.tmpdir(), 'bpfkit-65534');
  fs.rmSync(mine, { recursive: true, force: true });
  const readOnly = path.join(dir, 'ro-cache');
  fs.mkdirSync(readOnly, { mode: 0o755 }); // root's: nobody cannot write it
  const r = spawnSync(launcher, [path.join(dir, 'main.ts')], { encoding: 'utf8', uid: 65534, gid: 65534, env: { ...process.env, BPFKIT_CACHE: readOnly } });
  expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: '' });
  expect(JSON.parse(r.stdout).value).toBe(1);
  expect(fs.statSync(mine).uid).toBe(65534);
  expect(fs.statSync(mine).mode & 0o077).toBe(0); // made private
});

test('the names a module imports from a builtin, as the bundle takes them', async () => {
  const { importedNames } = await import('../../bin/bundle.mjs' as string);
  const source = `/* eslint-disable n/no-unpublished-import */
import fs from 'node:fs';
import { readFileSync, statSync as stat,
  // a comment between names
  existsSync } from 'node:fs';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { format } from "util";`;
  expect(importedNames(source, 'node:fs')).toEqual(['existsSync', 'readFileSync', 'statSync']);
  expect(importedNames(source, 'util')).toEqual(['format']);
  expect(importedNames(source, 'node:path')).toBeUndefined(); // a namespace import keeps node's wrapper
  expect(importedNames(source, 'node:os')).toEqual([]);
});
