// swapin on the real kernel, which has no swap-in tracepoint nor kprobes: it counts major faults in
// anonymous memory. A program maps a file that is not in the page cache and touches 16 of its pages:
// major faults (getrusage says how many), but of a file, not swap-ins: counted 0. The kernel's own
// swap-in counter (pswpin, /proc/vmstat) over the same run bounds what it counts machine-wide (this VM
// has no swap device: both 0).
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, startTool, traceHeld, untilAttached } from './helpers.js';
import { cleanFile } from './memcg.js';

const dir = fs.mkdtempSync('/var/tmp/bpfkit-swapin-'); // on the disk: a file there can leave the page cache
const data = path.join(dir, 'data');
const results = path.join(dir, 'results');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const FUNCTIONS = `#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>`;
const BODY = `struct rusage before, after;
	int fd = open("${data}", O_RDONLY);
	volatile char *p = mmap(0, 1 << 20, PROT_READ, MAP_SHARED, fd, 0);
	madvise((void *)p, 1 << 20, MADV_RANDOM);
	getrusage(RUSAGE_SELF, &before);
	int sum = 0;
	for (int i = 0; i < 16; i++)
		sum += p[i * 16 * 4096];
	getrusage(RUSAGE_SELF, &after);
	FILE *f = fopen("${results}", "w");
	fprintf(f, "%ld\\n", after.ru_majflt - before.ru_majflt);
	fclose(f);`;

const vmstat = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(fs.readFileSync('/proc/vmstat', 'utf8'))![1]);

test('major faults of a file are not swap-ins; machine-wide, at most the kernel\'s pswpin', async () => {
  cleanFile(data, 1); // written and dropped from the page cache
  const program = heldProgram(path.join(dir, 'filereader'), FUNCTIONS, BODY);
  await program.started();
  const pswpin = vmstat('pswpin');
  const all = startTool('swapin', ['--json', '600']);
  await untilAttached([all]);
  const { tool, code } = await traceHeld('swapin', ['-p', String(program.pid), '600'], program);
  expect([code, await all.stop()]).toEqual([0, 0]);
  const swappedIn = vmstat('pswpin') - pswpin;
  expect(Number(fs.readFileSync(results, 'utf8'))).toBeGreaterThan(0); // the program did fault its pages in from the disk
  expect(tool.stdout()).toBe('Counting swap ins. Ctrl-C to end.\nCOMM             PID     COUNT\n\n');
  expect(tool.stderr()).toBe('swapin: counted as major faults in anonymous memory (software perf event + bpf_find_vma): this kernel has no kprobes or fentry for swap_read_folio\n');
  const [record] = all.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(validateRecord(record)).toEqual([]);
  expect(record.rows.filter((r: any) => r.pid === program.pid)).toEqual([]);
  expect(record.rows.reduce((a: number, r: any) => a + r.count, 0)).toBeLessThanOrEqual(swappedIn);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('swapin', [['-p', 'x'], ['-p', '999999999'], ['0'], ['1', '0']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('swapin');
});
