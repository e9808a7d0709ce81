// mmapsnoop on the real kernel: a program maps 3 pages of a known file (its fd closed before the call
// returns to the tracer's reading), one anonymous area, and makes one call that fails (EBADF): exactly
// those three calls, with the file's full path (crossing the /tmp mount), the address each returned
// (the program writes them down) and the error.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, startTool, tmpDir, traceHeld, untilAttached } from './helpers.js';

const dir = tmpDir('bpfkit-mmapsnoop-');
const data = path.join(dir, 'mapped-data');
const results = path.join(dir, 'results');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const BODY = `int fd = open("${data}", O_RDONLY);
	void *file = mmap(0, 3 * 4096, PROT_READ, MAP_SHARED, fd, 4096);
	close(fd);
	void *anon = mmap(0, 5 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *bad = mmap(0, 4096, PROT_READ, MAP_PRIVATE, -1, 0);
	FILE *f = fopen("${results}", "w");
	fprintf(f, "%lx %lx %ld\\n", (unsigned long)file, (unsigned long)anon, (long)bad);
	fclose(f);`;

test('the file\'s path, the anonymous area and the failed call, each with its result', async () => {
  fs.writeFileSync(data, Buffer.alloc(5 * 4096, 7));
  const program = heldProgram(path.join(dir, 'mapper'), '#include <stdio.h>\n#include <sys/mman.h>', BODY);
  await program.started();
  const pid = String(program.pid);
  const json = startTool('mmapsnoop', ['--json', '-p', pid]);
  const failed = startTool('mmapsnoop', ['-x', '-p', pid]);
  await untilAttached([json, failed]);
  const { tool, code } = await traceHeld('mmapsnoop', ['-p', pid], program, [json, failed]);
  expect([code, await json.stop(), await failed.stop()]).toEqual([0, 0, 0]);
  const [fileAt, anonAt, bad] = fs.readFileSync(results, 'utf8').trim().split(' ');
  expect(bad).toBe('-1');
  const lines = tool.stdout().trim().split('\n');
  expect(lines[0]).toMatch(/^PID +COMM +PROT FLAGS +KB +FD +RET FILE$/);
  const rows = lines.slice(1).map(l => l.trim().split(/ +/));
  expect(rows).toEqual([
    [pid, 'mapper', 'R--', 'SHARED', '12', expect.stringMatching(/^\d+$/), fileAt, data],
    [pid, 'mapper', 'RW-', 'PRIVATE|ANONYMOUS', '20', '-1', anonAt, '[anon]'],
    [pid, 'mapper', 'R--', 'PRIVATE', '4', '-1', '-9'],
  ]);
  expect(failed.stdout().trim().split('\n').slice(1).map(l => l.trim().split(/ +/).at(-1))).toEqual(['-9']);
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  expect(records.map(r => [r.file, r.address, r.error, r.bytes, r.offset])).toEqual([
    [data, `0x${fileAt}`, null, 12288, 4096], [null, `0x${anonAt}`, null, 20480, 0], [null, null, 9, 4096, 0],
  ]);
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('mmapsnoop', [['-p', 'x'], ['-p', '999999999'], ['-d', '0'], ['extra']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('mmapsnoop');
});
