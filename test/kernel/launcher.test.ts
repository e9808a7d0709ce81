// The launcher belongs to its checkout: a tool runs from any working directory (by absolute or relative
// path, or through a symlink) with this checkout's Node, and `bpfkit` on PATH keeps working when a
// second checkout is set up and then deleted.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root, tmpDir } from './helpers.js';

const run = (cmd: string, args: string[], cwd = '/') => spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 240_000 });
const usageLine = /^usage: runqlat \[-h\]/;
const runqlat = path.join(root, 'tools', 'cpu', 'runqlat.ts');

test('a tool runs by absolute path from /, by relative path, and through a symlink, on Node 26', () => {
  expect(run(runqlat, ['--help']).stdout).toMatch(usageLine);
  expect(run('./cpu/runqlat.ts', ['--help'], path.join(root, 'tools')).stdout).toMatch(usageLine);
  const link = path.join(tmpDir(), 'rq');
  fs.symlinkSync(runqlat, link);
  expect(run(link, ['--help']).stdout).toMatch(usageLine);
  // the runtime is the checkout's pinned node, whatever `node` is on PATH
  const version = run(path.join(root, 'bin', 'bpfkit-node'), [path.join(root, 'test', 'fixtures', 'node-version.ts')]);
  expect(version.stdout.trim()).toMatch(/^v26\./);
});

test('bpfkit on PATH: a second checkout set up and deleted leaves the first working', () => {
  const onPath = '/usr/local/bin/bpfkit';
  expect(fs.existsSync(onPath)).toBe(true); // setup.sh put it there
  const second = path.join(tmpDir('bpfkit-second-'), 'checkout');
  // a clone of this checkout's files, with a hard-linked copy of its node_modules (setup then skips npm ci)
  expect(run('git', ['clone', '-q', '--no-hardlinks', root, second]).status).toBe(0);
  for (const f of spawnSync('git', ['ls-files', '-m', '-o', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    fs.mkdirSync(path.dirname(path.join(second, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(second, f)); // uncommitted work too
  }
  expect(run('cp', ['-al', path.join(root, 'node_modules'), path.join(second, 'node_modules')]).status).toBe(0);
  fs.utimesSync(path.join(second, 'node_modules', '.package-lock.json'), new Date(), new Date());
  const setup = run(path.join(second, 'setup.sh'), [], second);
  expect({ code: setup.status, err: setup.stderr }).toEqual({ code: 0, err: '' });
  const fromSecond = run(onPath, ['list']);
  expect(fromSecond.status).toBe(0);
  fs.rmSync(path.dirname(second), { recursive: true, force: true });

  const after = run(onPath, ['list']);
  expect({ code: after.status, err: after.stderr }).toEqual({ code: 0, err: '' });
  expect(after.stdout).toMatch(/^cpu +runqlat +/m);
  expect(run(runqlat, ['--help']).stdout).toMatch(usageLine);
  // and this checkout's own setup takes PATH back (and forgets the deleted one)
  expect(run(path.join(root, 'setup.sh'), [], root).status).toBe(0);
  expect(fs.readFileSync('/usr/local/lib/bpfkit/checkouts', 'utf8').split('\n')[0]).toBe(root);
}, 300_000);
