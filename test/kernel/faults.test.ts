// faults on the real kernel: a program touches 500 fresh anonymous pages from touch_pages(): at least
// 500 page faults are counted on that function's stack (one per page: no huge pages unless asked for
// with madvise here), for that process; -f prints the same stack folded.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, startTool, tmpDir, untilAttached } from './helpers.js';

const dir = tmpDir('bpfkit-faults-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const PAGES = 500;
const FUNCTIONS = `#include <sys/mman.h>
__attribute__((noinline)) void touch_pages(volatile char *p, int n)
{
	for (int i = 0; i < n; i++)
		p[i * 4096] = 1;
}`;
const BODY = `char *area = mmap(0, ${PAGES} * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	touch_pages(area, ${PAGES});`;

test(`${PAGES} fresh pages touched: at least ${PAGES} faults on touch_pages' stack`, async () => {
  const program = heldProgram(path.join(dir, 'toucher'), FUNCTIONS, BODY);
  await program.started();
  const pid = String(program.pid);
  const tool = startTool('faults', ['-p', pid]);
  const json = startTool('faults', ['--json', '-p', pid]);
  const folded = startTool('faults', ['-f', '-p', pid]);
  await untilAttached([tool, json, folded]);
  await program.release();
  // stopped while the program lives: its mappings name the frames
  expect([await tool.stop(), await json.stop(), await folded.stop()]).toEqual([0, 0, 0]);
  program.end();

  expect(tool.stdout().split('\n')[0]).toBe(`Tracing page faults of PID ${pid} by user stack... Hit Ctrl-C to end.`);
  const blocks = tool.stdout().split('\n\n').filter(b => /^ {4}touch_pages$/m.test(b));
  const total = blocks.reduce((a, b) => a + Number(/^ {8}(\d+)$/m.exec(b)![1]), 0);
  expect(total).toBeGreaterThanOrEqual(PAGES);
  // (the fault is in touch_pages, a leaf: the frame-pointer walk may go from it straight past main)
  expect(blocks[0]).toMatch(new RegExp(`^ {4}touch_pages\\n(.*\\n)* {4}- {16}toucher \\(${pid}\\)\\n`, 'm'));

  const [record] = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(validateRecord(record)).toEqual([]);
  const touching = record.stacks.filter((s: any) => s.user_stack[0] === 'touch_pages');
  expect(touching.reduce((a: number, s: any) => a + s.faults, 0)).toBe(total);
  expect(touching[0]).toMatchObject({ pid: program.pid, comm: 'toucher' });
  expect(record.stacks.every((s: any) => s.pid === program.pid)).toBe(true);

  const lines = folded.stdout().trim().split('\n').filter(l => l.endsWith(` ${total}`) || l.includes(';touch_pages '));
  expect(lines.reduce((a, l) => a + Number(l.split(' ').at(-1)), 0)).toBe(total);
  expect(lines[0]).toMatch(/^toucher;.*;touch_pages \d+$/);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('faults', [['-p', 'x'], ['-p', '999999999'], ['0'], ['1', '2']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('faults');
});
