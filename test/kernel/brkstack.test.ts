// brkstack on the real kernel: a program asks where its break is (one brk(0) from main), then grows it
// 50 times by a page from grow_heap(): exactly 50 brk() calls on grow_heap's stack and 51 in all, for
// that process; -f folds the same stacks. The calls are made with the syscall instruction in the
// program's own code: through glibc's sbrk() the stack would stop at brk (Debian's glibc keeps no
// frame pointers, so a frame-pointer walk cannot leave it), as BCC's stacks do too.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, startTool, tmpDir, untilAttached } from './helpers.js';

const dir = tmpDir('bpfkit-brkstack-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const CALLS = 50;
const FUNCTIONS = `static inline unsigned long raw_brk(unsigned long to)
{
	unsigned long ret;
	__asm__ volatile ("syscall" : "=a"(ret) : "a"(SYS_brk), "D"(to) : "rcx", "r11", "memory");
	return ret;
}
__attribute__((noinline)) void grow_heap(unsigned long from, int n)
{
	for (int i = 1; i <= n; i++)
		raw_brk(from + i * 4096UL);
}`;
const BODY = `unsigned long now = raw_brk(0);
	grow_heap(now, ${CALLS});`;

test(`${CALLS} brk() calls from grow_heap: exactly those on its stack`, async () => {
  const program = heldProgram(path.join(dir, 'grower'), FUNCTIONS, BODY);
  await program.started();
  const pid = String(program.pid);
  const text = startTool('brkstack', ['-p', pid]);
  const json = startTool('brkstack', ['--json', '-p', pid]);
  const folded = startTool('brkstack', ['-f', '-p', pid]);
  await untilAttached([text, json, folded]);
  await program.release();
  // stopped while the program lives: its mappings name the frames
  expect([await text.stop(), await json.stop(), await folded.stop()]).toEqual([0, 0, 0]);
  program.end();

  expect(text.stdout().split('\n')[0]).toBe(`Tracing brk() calls of PID ${pid} by user stack... Hit Ctrl-C to end.`);
  const blocks = text.stdout().split('\n\n').filter(b => /^ {4}grow_heap$/m.test(b));
  expect(blocks.reduce((a, b) => a + Number(/^ {8}(\d+)$/m.exec(b)![1]), 0)).toBe(CALLS);
  // (grow_heap is a leaf, without a frame of its own: the walk goes from it to main's caller)
  expect(blocks[0]).toMatch(new RegExp(`^ {4}grow_heap\\n(.*\\n)* {4}- {16}grower \\(${pid}\\)\\n`, 'm'));

  const [record] = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(validateRecord(record)).toEqual([]);
  const growing = record.stacks.filter((s: any) => s.user_stack.includes('grow_heap'));
  expect(growing.reduce((a: number, s: any) => a + s.calls, 0)).toBe(CALLS);
  expect(record.stacks.reduce((a: number, s: any) => a + s.calls, 0)).toBe(CALLS + 1); // and main's brk(0)
  expect(record).toMatchObject({ value_field: 'calls' });
  expect(record.stacks.every((s: any) => s.pid === program.pid && s.comm === 'grower')).toBe(true);

  const lines = folded.stdout().trim().split('\n').filter(l => /;grow_heap \d+$/.test(l));
  expect(lines.reduce((a, l) => a + Number(l.split(' ').at(-1)), 0)).toBe(CALLS);
  expect(lines[0]).toMatch(/^grower;.*;grow_heap \d+$/);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('brkstack', [['-p', 'x'], ['-p', '999999999'], ['0'], ['1', '2']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('brkstack');
});
