// kpages on the real kernel: a held program touching N fresh anonymous pages (mmap, no huge pages)
// faults each one in: with -p its PID, the stacks through do_anonymous_page count at least N page
// allocations and dominate its allocations; --json; bad input.
import { validateRecord } from '../../lib/output/index.js';
import { attached, expectUsageErrors, heldProgram, startTool, tmpDir } from './helpers.js';

const N = 2000;
const dir = tmpDir('bpfkit-kpages-');

function entries(out: string) {
  return [...out.matchAll(/^@pages\[\n((?: {8}\S+\n)*), (.*)\]: (\d+)$/gm)]
    .map(m => ({ frames: m[1].trim().split(/\s+/), comm: m[2], count: Number(m[3]) }));
}

test(`${N} anonymous pages touched: at least ${N} allocations from do_anonymous_page, the most of all; --json`, async () => {
  const p = heldProgram(`${dir}/touch`, '#include <sys/mman.h>', `
	char *m = mmap(NULL, ${N} * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) return 1;
	madvise(m, ${N} * 4096L, MADV_NOHUGEPAGE);
	for (long i = 0; i < ${N}; i++) m[i * 4096] = 1;`);
  await p.started();
  const text = startTool('kpages', ['-p', String(p.pid)]);
  const json = startTool('kpages', ['--json', '-p', String(p.pid)]);
  await Promise.all([text, json].map(attached));
  await p.release();
  expect(await Promise.all([text, json].map(t => t.stop()))).toEqual([0, 0]);
  p.end();
  expect(text.stdout().split('\n')[0]).toBe('Tracing page allocation stacks. Hit Ctrl-C to end.');
  const all = entries(text.stdout());
  expect(all.every(e => e.comm === 'touch')).toBe(true);
  const anon = all.filter(e => e.frames.some(f => f.startsWith('do_anonymous_page+')));
  const anonCount = anon.reduce((a, e) => a + e.count, 0);
  const total = all.reduce((a, e) => a + e.count, 0);
  console.log(`kpages: ${anonCount} of ${total} page allocations through do_anonymous_page for ${N} pages`);
  expect(anonCount).toBeGreaterThanOrEqual(N);
  expect(anonCount).toBeGreaterThan(total / 2);
  // printed smallest count first, as bpftrace: the largest (the anonymous faults) last
  expect(all.map(e => e.count)).toEqual([...all.map(e => e.count)].sort((a, b) => a - b));
  expect(all.at(-1)!.frames.some(f => f.startsWith('do_anonymous_page+'))).toBe(true);
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records.map(validateRecord)).toEqual(records.map(() => []));
  expect(records[0]).toMatchObject({ tool: 'kpages', kind: 'stacks', value_field: 'count' });
  expect(records[0].stacks[0].kernel_stack.some((f: string) => f.startsWith('do_anonymous_page+'))).toBe(true);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('kpages', [['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '0'], ['--nosuch']]);
});
