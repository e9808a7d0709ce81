// hfaults on the real kernel: with 2 huge pages reserved for the test (vm.nr_hugepages, put back after),
// a program maps 2 hugetlb pages and touches 3 bytes of each, and touches 50 ordinary pages: exactly
// 2 huge page faults, for that process; the ordinary ones are not counted.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, tmpDir, traceHeld } from './helpers.js';

const dir = tmpDir('bpfkit-hfaults-');
const sysctl = '/proc/sys/vm/nr_hugepages';
let before = '0';
beforeAll(() => {
  before = fs.readFileSync(sysctl, 'utf8').trim();
  fs.writeFileSync(sysctl, String(Number(before) + 2));
});
afterAll(() => {
  fs.writeFileSync(sysctl, before);
  fs.rmSync(dir, { recursive: true, force: true });
});

const HUGE = 2 << 20;
const BODY = `volatile char *huge = mmap(0, 2 * ${HUGE}, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (huge == MAP_FAILED)
		return 2;
	for (int page = 0; page < 2; page++)
		for (int i = 0; i < 3; i++)
			huge[page * ${HUGE} + i * 4096] = 1;
	volatile char *small = mmap(0, 50 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < 50; i++)
		small[i * 4096] = 1;`;

/** One tracer per run (see ffaults.test.ts: bpf_find_vma in a fault serves one program at a time). */
async function traced(args: string[]) {
  const program = heldProgram(path.join(dir, 'hugeuser'), '#include <sys/mman.h>', BODY);
  await program.started();
  const { tool, code } = await traceHeld('hfaults', [...args, '-p', String(program.pid)], program);
  expect(code).toBe(0);
  return { tool, pid: program.pid };
}

test('two huge pages touched: exactly two huge page faults', async () => {
  const text = await traced([]);
  expect(text.tool.stdout()).toBe(`Tracing Huge Page faults... Hit Ctrl-C to end.\n\n@[${text.pid}, hugeuser]: 2\n`);
  const json = await traced(['--json']);
  const [record] = json.tool.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(validateRecord(record)).toEqual([]);
  expect(record.rows).toEqual([{ pid: json.pid, comm: 'hugeuser', faults: 2 }]);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('hfaults', [['-p', 'x'], ['-p', '999999999'], ['0'], ['1', '2']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('hfaults');
});
