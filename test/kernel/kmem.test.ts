// kmem on the real kernel: a held program creating N pipes allocates, for each, the pipe's
// pipe_inode_info and its buffer array from alloc_pipe_info (two kmallocs): with -p its PID, the stacks
// through alloc_pipe_info count 2N allocations (at least N), all of that comm; --json; bad input.
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectUsageErrors, heldProgram, startTool, tmpDir } from './helpers.js';

const N = 300;
const dir = tmpDir('bpfkit-kmem-');

/** "@bytes[...stack..., comm]: count C, average A, total T" entries. */
function entries(out: string) {
  return [...out.matchAll(/^@bytes\[\n((?: {8}\S+\n)*), (.*)\]: count (\d+), average (\d+), total (\d+)$/gm)]
    .map(m => ({ frames: m[1].trim().split(/\s+/), comm: m[2], count: Number(m[3]), average: Number(m[4]), total: Number(m[5]) }));
}

test(`${N} pipes: alloc_pipe_info's allocations number exactly 2 x ${N}; --json`, async () => {
  const p = heldProgram(`${dir}/pipes`, '', `for (int i = 0; i < ${N}; i++) { int fd[2]; if (pipe(fd)) return 1; close(fd[0]); close(fd[1]); }`);
  await p.started();
  const text = startTool('kmem', ['-p', String(p.pid)]);
  const json = startTool('kmem', ['--json', '-p', String(p.pid)]);
  await Promise.all([text, json].map(attached));
  await p.release();
  expect(await Promise.all([text, json].map(t => t.stop()))).toEqual([0, 0]);
  p.end();
  expect(text.stdout().split('\n')[0]).toBe('Tracing kmem allocation stacks (kmalloc, kmem_cache_alloc). Hit Ctrl-C to end.');
  const all = entries(text.stdout());
  expect(all.length).toBeGreaterThan(0);
  expect(all.every(e => e.comm === 'pipes' && e.frames.length <= 5)).toBe(true);
  const pipe = all.filter(e => e.frames.some(f => f.startsWith('alloc_pipe_info+')));
  const pipeCount = pipe.reduce((a, e) => a + e.count, 0);
  console.log(`kmem: ${pipeCount} allocations through alloc_pipe_info for ${N} pipes`);
  expect(pipeCount).toBe(2 * N);
  for (const e of all) expect(e.average).toBe(Math.floor(e.total / e.count));
  // printed smallest total first, as bpftrace
  expect(all.map(e => e.total)).toEqual([...all.map(e => e.total)].sort((a, b) => a - b));
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.map(validateRecord)).toEqual(records.map(() => []));
  const stacks = records.flatMap(r => r.stacks);
  expect(stacks.filter((s: { kernel_stack: string[] | null }) => s.kernel_stack?.some(f => f.startsWith('alloc_pipe_info+')))
    .reduce((a: number, s: { count: number }) => a + s.count, 0)).toBe(2 * N);
  expect(stacks.every((s: { pid: number }) => s.pid === p.pid)).toBe(true);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('kmem', [['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '0'], ['--nosuch']]);
});
