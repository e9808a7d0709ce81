// runqlen on the real kernel: 99 Hz samples on every CPU while more tasks than CPUs want to run.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { runTool } from './helpers.js';

describe('with more busy tasks than CPUs', () => {
let hogs: ChildProcess[] = [];
beforeEach(async () => {
  hogs = Array.from({ length: os.cpus().length * 3 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  await new Promise(r => setTimeout(r, 300));
});
afterEach(() => hogs.forEach(h => h.kill('SIGKILL')));

const rows = (text: string) => [...text.matchAll(/^ {8}(\d+) +: (\d+) +\|[*+ ]*\|$/gm)].map(m => ({ len: +m[1], count: +m[2] }));

test('a linear histogram of queue lengths: busy CPUs sampled at 99 Hz, tasks found waiting', () => {
  const r = runTool('runqlen', ['2', '1']);
  expect(r.code).toBe(0);
  expect(r.stdout.split('\n').slice(0, 3)).toEqual(['Sampling run queue length... Hit Ctrl-C to end.', '', '     runqlen       : count     distribution']);
  const hist = rows(r.stdout);
  const samples = hist.reduce((a, x) => a + x.count, 0);
  // 2 s x 99 Hz x CPUs, less the frequency ramp-up at the start; at least one CPU's worth
  expect(samples).toBeGreaterThan(150);
  expect(samples).toBeLessThanOrEqual(2 * 99 * os.cpus().length + 20);
  expect(hist.filter(x => x.len >= 1).reduce((a, x) => a + x.count, 0)).toBeGreaterThan(samples / 2);
});

test('-C gives a section per CPU; -O reports occupancy; --json', () => {
  const c = runTool('runqlen', ['-C', '1', '1']);
  expect(c.code).toBe(0);
  expect([...c.stdout.matchAll(/^cpu = (\d+)$/gm)].map(m => +m[1]).sort()).toEqual(os.cpus().map((_, i) => i));
  const o = runTool('runqlen', ['-O', '1', '1']);
  const occ = Number(/^runqocc: (\d+\.\d\d)%$/m.exec(o.stdout)?.[1]);
  expect(occ).toBeGreaterThan(50);
  const j = runTool('runqlen', ['--json', '1', '1']);
  const obj = JSON.parse(j.stdout.trim());
  expect(obj.valType).toBe('runqlen');
  expect(obj.total).toBeGreaterThan(50);
});

});

test('bad input: one line and exit 2', () => {
  for (const args of [['--bogus'], ['0'], ['1', 'x'], ['1', '2', '3']]) {
    const r = runTool('runqlen', args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^runqlen: /);
  }
});
