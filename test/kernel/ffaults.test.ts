// ffaults on the real kernel: a program maps a known file of 64 pages and reads one byte of each of 40
// of them, with MADV_RANDOM (no fault-around): the file is shown by its full path, with at least one
// fault and at most one per page touched (6.x maps a whole large folio of the page cache at one fault:
// measured here, 3 faults for the 40 pages).
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, tmpDir, traceHeld } from './helpers.js';

const dir = tmpDir('bpfkit-ffaults-');
const data = path.join(dir, 'faulted-file');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const TOUCHED = 40;
const BODY = `int fd = open("${data}", O_RDONLY);
	volatile char *p = mmap(0, 64 * 4096, PROT_READ, MAP_SHARED, fd, 0);
	madvise((void *)p, 64 * 4096, MADV_RANDOM);
	int sum = 0;
	for (int i = 0; i < ${TOUCHED}; i++)
		sum += p[i * 4096];
	close(fd);`;

/**
 * One tracer per run of the program: bpf_find_vma() in a fault, where interrupts are off, defers its
 * unlock to an irq_work that the next program on that CPU finds busy (EBUSY): two ffaults attached
 * at once see each fault once between them.
 */
async function traced(args: string[]) {
  const program = heldProgram(path.join(dir, 'reader'), '#include <sys/mman.h>', BODY);
  await program.started();
  const { tool, code } = await traceHeld('ffaults', [...args, '-p', String(program.pid)], program);
  expect(code).toBe(0);
  return tool;
}

test('the mapped file is shown by its path, with its faults', async () => {
  fs.writeFileSync(data, Buffer.alloc(64 * 4096, 1));
  const text = await traced([]);
  const json = await traced(['--json']);
  const m = new RegExp(`^@\\[${data}\\]: (\\d+)$`, 'm').exec(text.stdout());
  expect(m).not.toBeNull();
  expect(Number(m![1])).toBeGreaterThanOrEqual(1);
  expect(Number(m![1])).toBeLessThanOrEqual(TOUCHED);
  expect(text.stderr()).toBe('ffaults: counted at exceptions:page_fault_user/kernel with bpf_find_vma: this kernel has no kprobes or fentry for handle_mm_fault\n');
  const [record] = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(validateRecord(record)).toEqual([]);
  const rows = record.rows.filter((r: any) => r.file === data); // (the program's own binary faults in too)
  expect(rows).toEqual([{ file: data, faults: expect.any(Number) }]);
  expect(rows[0].faults).toBeGreaterThanOrEqual(1);
  expect(rows[0].faults).toBeLessThanOrEqual(TOUCHED);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('ffaults', [['-p', 'x'], ['-p', '999999999'], ['0'], ['1', '2']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('ffaults');
});
