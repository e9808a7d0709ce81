// ioprofile on the real kernel: N pread(2) calls from one call site count exactly N under
// sys_enter_pread64, with that call site in the user stack; -p; --json; bad input.
import path from 'node:path';
import { expectUsageErrors, heldProgram, printed, tmpDir, traceHeld } from './helpers.js';

const N = 7;
const dir = tmpDir('bpfkit-ioprofile-');
// the function calling pread is skipped by the stack walk from libc's wrapper (no frame pointer
// there): the call site is the one above it
const reader = () => heldProgram(path.join(dir, 'ioreader'), `
__attribute__((noinline)) void read_one(int fd) { char c; if (pread(fd, &c, 1, 0) < 0) _exit(1); }
__attribute__((noinline)) void ioprofile_call_site(int fd) { read_one(fd); }`, `
	int fd = open("/proc/self/stat", O_RDONLY);
	for (int i = 0; i < ${N}; i++)
		ioprofile_call_site(fd);`);
const tracing = printed('Tracing I/O syscall user stacks. Ctrl-C to end.');

const entries = (out: string) => [...out.matchAll(/^@\[(tracepoint:\S+), \n((?: {8}.*\n)*), (.*)\]: (\d+)$/gm)]
  .map(m => ({ probe: m[1], frames: m[2].split('\n').filter(Boolean).map(f => f.trim()), comm: m[3], count: Number(m[4]) }));

test(`-p PID: ${N} preads from one call site, counted exactly with that stack`, async () => {
  const p = reader();
  await p.started();
  const { tool, code } = await traceHeld('ioprofile', ['-p', String(p.pid)], p, [], tracing);
  expect(code).toBe(0);
  const preads = entries(tool.stdout()).filter(e => e.probe === 'tracepoint:syscalls:sys_enter_pread64');
  expect(preads.map(e => [e.comm, e.count])).toEqual([['ioreader', N]]);
  expect(preads[0].frames).toEqual(expect.arrayContaining(['ioprofile_call_site', 'main']));
  // -p: the held program's own read and write (its go byte, its "done") are the only others
  expect(entries(tool.stdout()).every(e => e.comm === 'ioreader')).toBe(true);
});

test('--json: a stacks record with the probe, stack and count', async () => {
  const p = reader();
  await p.started();
  const { tool, code } = await traceHeld('ioprofile', ['--json', '-p', String(p.pid)], p, [], tracing);
  expect(code).toBe(0);
  const records = tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ tool: 'ioprofile', kind: 'stacks' });
  expect(records[0].stacks).toContainEqual(expect.objectContaining({ probe: 'tracepoint:syscalls:sys_enter_pread64', pid: p.pid, comm: 'ioreader', count: N }));
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('ioprofile', [['--bogus'], ['-p', 'abc'], ['-p', '999999999'], ['0'], ['1', '2']]);
});
