// One ESM file per runnable TypeScript file (a tool, bin/cli.ts, a bench), with the library bundled in:
// node then loads one file instead of ~40, and its compile cache makes that file cheap to start. A bundle
// is rebuilt (esbuild, ~50 ms) whenever any file it was built from is newer, so editing a tool or the
// library needs no build step. Plain JS: it runs before anything is built.
// Builtins through process.getBuiltinModule, not `import`: node's ESM wrapper of a builtin reads every
// export, and fs's lazy `promises` alone loads ~10 more modules (fs/promises, readline, streams).
const fs = process.getBuiltinModule('node:fs');
const os = process.getBuiltinModule('node:os');
const path = process.getBuiltinModule('node:path');
const { builtinModules, createRequire } = process.getBuiltinModule('node:module');
const { fileURLToPath, pathToFileURL } = process.getBuiltinModule('node:url');

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** BPFKIT_CACHE, else $XDG_CACHE_HOME/bpfkit, else ~/.cache/bpfkit (lib/compile uses the same rule). */
export function cacheDir() {
  return process.env.BPFKIT_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bpfkit');
}

/**
 * Where the bundle of `source` lives: in the cache directory, beside the compiled BPF objects, under the
 * project's path (each checkout its own; a read-only install still runs).
 */
export function bundlePath(source, dir = cacheDir()) {
  const rel = path.relative(root, source);
  const inside = !rel.startsWith('..') && !path.isAbsolute(rel);
  // the project's path as a directory name (node:crypto would cost every start ~20 ms to load)
  const base = (inside ? root : path.dirname(source)).replace(/[^\w.-]+/g, '_');
  const name = inside ? rel.replace(/\.[cm]?ts$/, '.mjs') : path.basename(source).replace(/\.[cm]?ts$/, '.mjs');
  return path.join(dir, 'run', base, name);
}

/**
 * Where a user who cannot write the cache (someone else's HOME, a read-only one) keeps bundles: a
 * directory of their own in /tmp, refused if anyone else made it or can write it (it holds code we run).
 */
function privateDir() {
  const dir = path.join(os.tmpdir(), `bpfkit-${process.getuid()}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid() || (st.mode & 0o022)) throw new Error(`${dir} is not a private directory of this user`);
  return dir;
}

const mtime = file => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return Infinity; // a vanished input makes the bundle stale
  }
};

/** The bundle, if it is at least as new as every file it was built from (npm pack gives all files one date). */
export function currentBundle(source, dir = cacheDir()) {
  const out = bundlePath(source, dir);
  let inputs;
  try {
    inputs = JSON.parse(fs.readFileSync(`${out}.inputs`, 'utf8'));
  } catch {
    return undefined;
  }
  const built = mtime(out);
  if (built === Infinity) return undefined;
  for (const f of inputs) if (mtime(f) > built) return undefined;
  return out;
}

/**
 * The bundle lives in the cache, so whatever its code resolves at run time must not depend on where the
 * bundle is: each module keeps its own import.meta.url (lib/compile finds bpf-c/include from it); koffi
 * (native), yargs (~300 KB, loaded only for bad input) esbuild (its API runs its own binary: the dashboard bundles its page) and the browser test pieces benches use (playwright-core, pngjs) are not bundled but imported by absolute path;
 * bundled CommonJS gets a require() rooted in the project.
 */
const requireFromRoot = createRequire(path.join(root, 'package.json'));
const inPlace = {
  name: 'bpfkit-in-place',
  setup(build) {
    build.onResolve({ filter: /^(koffi|yargs|esbuild|playwright-core|pngjs)$/ }, args => ({ path: pathToFileURL(requireFromRoot.resolve(args.path)).href, external: true }));
    // an import of a builtin takes it from process.getBuiltinModule, reading only the names imported
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, async args => {
      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name) || args.kind !== 'import-statement') return undefined;
      const names = importedNames(await fs.promises.readFile(args.importer, 'utf8'), args.path);
      return names && { path: `${name}:${names.join(',')}`, namespace: 'bpfkit-builtin' };
    });
    build.onLoad({ filter: /.*/, namespace: 'bpfkit-builtin' }, args => {
      const [name, names] = args.path.split(':');
      return { contents: builtinShim(name, names ? names.split(',') : []), loader: 'js' };
    });
    // every module, ours (.ts) or a package's (.js), keeps its own place
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async args => ({
      contents: (await fs.promises.readFile(args.path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
      loader: /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js',
    }));
  },
};
const banner = `const require = process.getBuiltinModule('node:module').createRequire(${JSON.stringify(path.join(root, 'package.json'))});`;

const builtins = new Set(builtinModules.map(m => m.replace(/^node:/, '')));

/**
 * The names `source` imports from `specifier` (`import fs, { a, b as c } from ...`: a, b), or undefined
 * for a namespace import (`* as`), which keeps node's own ESM wrapper.
 */
export function importedNames(source, specifier) {
  const quoted = specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const statement = new RegExp(`(?:^|[\\n;])\\s*import\\s+(?!type\\s)([^;'"]*?)\\s*from\\s*(['"])${quoted}\\2`, 'g');
  const names = new Set();
  for (const [, written] of source.matchAll(statement)) {
    const clause = written.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''); // comments between the names
    if (clause.includes('*')) return undefined;
    const braces = /\{([^}]*)\}/.exec(clause)?.[1] ?? '';
    for (const item of braces.split(',')) {
      const imported = item.trim().split(/\s+as\s+/)[0];
      if (imported && !imported.startsWith('type ') && imported !== 'default') names.add(imported);
    }
  }
  return [...names].sort();
}

/**
 * The ESM face of builtin `name` without node's wrapper, which reads every export (fs's lazy `promises`
 * alone loads ~10 modules; util's lazy ones load worker_threads): the default export is the module, and
 * only `names` are read from it.
 */
function builtinShim(name, names) {
  const get = `process.getBuiltinModule(${JSON.stringify(`node:${name}`)})`;
  return `const m = ${get};\nexport default m;\n${names.length ? `export const { ${names.join(', ')} } = m;\n` : ''}`;
}

/** Builds the bundles of these sources (one esbuild run); writes each atomically, with its list of inputs. */
export async function buildBundles(sources, dir = cacheDir()) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error(`cannot build ${path.relative(root, sources[0])}: esbuild is not installed (run ./setup.sh or npm ci)`);
  }
  const built = await Promise.all(sources.map(async source => {
    const out = bundlePath(source, dir);
    const r = await esbuild.build({
      entryPoints: [source], bundle: true, platform: 'node', format: 'esm', target: 'node22',
      plugins: [inPlace], banner: { js: banner }, write: false, metafile: true, logLevel: 'silent',
      outfile: out, absWorkingDir: root,
    });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    for (const file of r.outputFiles) writeAtomic(file.path, file.contents);
    // this file is an input too: a change in how bundles are made remakes them
    const inputs = [fileURLToPath(import.meta.url), ...Object.keys(r.metafile.inputs).filter(f => !f.startsWith('bpfkit-builtin:')).map(f => path.resolve(root, f))];
    writeAtomic(`${out}.inputs`, JSON.stringify(inputs));
    const projectDir = path.join(dir, 'run', path.relative(path.join(dir, 'run'), out).split(path.sep)[0]);
    fs.utimesSync(projectDir, new Date(), new Date()); // in use: not for pruning
    return out;
  }));
  pruneOldBundles(dir);
  return built;
}

function writeAtomic(file, data) {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Bundles of projects and scripts not built from for a week are removed (tests bundle many one-off scripts). */
function pruneOldBundles(dir) {
  const runDir = path.join(dir, 'run');
  const weekAgo = Date.now() - 7 * 86400_000;
  for (const name of fs.readdirSync(runDir)) {
    const p = path.join(runDir, name);
    try {
      if (fs.statSync(p).mtimeMs < weekAgo) fs.rmSync(p, { recursive: true, force: true });
    } catch { /* another process pruned it */ }
  }
}

/** The current bundle of `source`, built first if needed (in a private directory if the cache is not ours). */
export async function bundleFor(source) {
  const found = currentBundle(source);
  if (found) return found;
  try {
    return (await buildBundles([source]))[0];
  } catch (e) {
    if (!['EACCES', 'EPERM', 'EROFS'].includes(e.code)) throw e;
    const dir = privateDir();
    return currentBundle(source, dir) ?? (await buildBundles([source], dir))[0];
  }
}
