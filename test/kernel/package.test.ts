// The library as a user gets it: `npm pack`, the tarball installed into a project of their own, and the
// README's example run there — as an .mjs, as an .mts (node's type stripping; types from the shipped
// .d.ts) and as a .ts through the package's bpfkit-node — compiling against the package's own
// bpf-c/include into the user's cache directory.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root, tmpDir } from './helpers.js';

const readmeExample = (() => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const m = /## The library in 20 lines\n+```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README: no example under "The library in 20 lines"');
  return m[1];
})();

const sh = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

/** Runs a command in the user's project while dd writes directly to disk; resolves with its output. */
function runWithDiskWrites(project: string, command: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; out: string; err: string }>(resolve => {
    const child = spawn(command[0], command.slice(1), { cwd: project, env: { ...process.env, ...env } });
    let out = '', err = '';
    child.stdout.on('data', d => (out += d));
    child.stderr.on('data', d => (err += d));
    const writer = spawn('sh', ['-c', `while :; do dd if=/dev/zero of=${project}/io.dat bs=4096 count=50 oflag=direct 2>/dev/null; sleep 0.1; done`]);
    child.on('exit', code => {
      writer.kill('SIGKILL');
      resolve({ code, out, err });
    });
  });
}

/** The histogram's total count, from BCC's "     4 -> 7          : 12       |****|" rows. */
const histogramTotal = (out: string) =>
  [...out.matchAll(/^\s*\d+ -> \d+\s+: (\d+)\s+\|/gm)].reduce((a, m) => a + Number(m[1]), 0);

test('npm pack, installed into a project of its own: the README example runs from .mjs, .mts and .ts', async () => {
  const work = tmpDir('bpfkit-pkg-');
  const tarball = sh('npm', ['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop()!;
  const project = path.join(work, 'app');
  fs.mkdirSync(project);
  // a plain project: no "type": "module", as `npm init -y` makes it
  sh('npm', ['init', '-y'], project);
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', path.join(work, tarball)], project);
  const installed = path.join(project, 'node_modules', 'bpfkit');
  expect(fs.existsSync(path.join(installed, 'bpf-c', 'include', 'bpfkit.h'))).toBe(true);
  expect(fs.existsSync(path.join(installed, 'dist', 'lib', 'index.d.ts'))).toBe(true);

  for (const ext of ['mjs', 'mts', 'ts']) fs.writeFileSync(path.join(project, `example.${ext}`), readmeExample);
  // the .ts type-checks against the shipped declarations
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true,
      typeRoots: [path.join(root, 'node_modules', '@types')], types: ['node'] },
    files: ['example.ts'],
  }));
  sh(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], project);

  const runs: Record<string, string[]> = {
    'example.mjs': [process.execPath, 'example.mjs'],
    'example.mts': [process.execPath, 'example.mts'],
    // a .ts in a plain (CommonJS) project is not ESM to node itself; the package's launcher runs it
    'example.ts': [path.join(project, 'node_modules', '.bin', 'bpfkit-node'), 'example.ts'],
  };
  for (const [file, command] of Object.entries(runs)) {
    const cache = path.join(work, `xdg-${file}`);
    const r = await runWithDiskWrites(project, command, { XDG_CACHE_HOME: cache, BPFKIT_CACHE: '' });
    expect({ file, code: r.code, err: r.err }).toEqual({ file, code: 0, err: '' });
    expect(r.out).toMatch(/^\s+usecs\s+: count\s+distribution$/m);
    expect(histogramTotal(r.out)).toBeGreaterThan(0);
    // compiled cold, from the package's headers, into the user's cache directory
    expect(fs.readdirSync(path.join(cache, 'bpfkit', 'obj')).some(f => f.endsWith('.o'))).toBe(true);
  }
}, 300_000);
