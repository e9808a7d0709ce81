// smpcalls on the real kernel: a known number of cross-CPU calls. A process pinned to CPU 0 opens a
// (disabled) perf event bound to CPU 1 and enables and disables it N times: the kernel installs it,
// and each enable and disable, on CPU 1 through cpu_function_call() (smp_call_function_single of
// remote_function, waiting): 2N + 1 calls queued from CPU 0 for CPU 1. Removing it at close takes one
// more only when CPU 1's perf context is active (another tool's events there), so 2N + 1 or 2N + 2.
// With -p only that process's calls are counted.
import fs from 'node:fs';
import path from 'node:path';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, histogramRows, runTool, startTool, tmpDir, untilAttached } from './helpers.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const TOGGLES = 500;

const functions = `
#include <sys/ioctl.h>
#include <linux/perf_event.h>
`;
const body = `
	unsigned long cpu0 = 1;
	if (syscall(SYS_sched_setaffinity, 0, sizeof(cpu0), &cpu0))
		return 2;
	struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(attr), .config = PERF_COUNT_SW_CPU_CLOCK, .disabled = 1 };
	int fd = syscall(SYS_perf_event_open, &attr, -1, 1, -1, 0);
	if (fd < 0)
		return 3;
	for (int i = 0; i < ${TOGGLES}; i++) {
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	}
	close(fd);
`;

/** Each "func = NAME" section's total count. */
function sectionCounts(text: string): Map<string, number> {
  return new Map(text.split(/^func = /m).slice(1).map(part => [part.split('\n')[0], histogramRows(part).reduce((a, [, n]) => a + n, 0)]));
}

test('-p: the 2N + 1 (or 2) remote_function calls of N perf enable/disable pairs on the other CPU; without -p: at least those', async () => {
  const program = heldProgram(path.join(dir, 'perf_toggle'), functions, body);
  await program.started();
  const mine = startTool('smpcalls', ['-p', String(program.pid)]);
  const all = startTool('smpcalls', []);
  await Promise.all([mine.waitFor(/Hit Ctrl-C/), all.waitFor(/Hit Ctrl-C/)]);
  await untilAttached([mine, all]);
  await program.release();
  expect(await Promise.all([mine.stop(), all.stop()])).toEqual([0, 0]);
  program.end();
  expect(mine.stderr()).toMatch(/^smpcalls: no kprobes here: timing each call from csd:csd_queue_cpu to csd:csd_function_exit on the target CPU\n/);
  const counted = sectionCounts(mine.stdout());
  // the events the kernel skipped because a program was already running on that CPU (see docs/json.md)
  const missed = Number(/(\d+) events missed/.exec(mine.stderr())?.[1] ?? 0);
  console.log(`smpcalls -p: ${[...counted].map(([f, n]) => `${f} ${n}`).join(', ')}; missed ${missed}`);
  expect(mine.stdout()).toContain('\nfunc = remote_function\n     nsecs               : count     distribution\n');
  expect(counted.get('remote_function')).toBeLessThanOrEqual(2 * TOGGLES + 2);
  expect(counted.get('remote_function')! + missed).toBeGreaterThanOrEqual(2 * TOGGLES + 1);
  expect(sectionCounts(all.stdout()).get('remote_function')).toBeGreaterThanOrEqual(2 * TOGGLES + 1);
});

test('--json: a histogram record sectioned by function; -T: the time above each summary', async () => {
  const r = runTool('smpcalls', ['--json', '1', '1']);
  expect(r.code).toBe(0);
  const rec = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(rec).toMatchObject({ tool: 'smpcalls', kind: 'histogram', val_type: 'nsecs', section_by: 'func' });
  const t = runTool('smpcalls', ['-T', '1', '1']);
  expect(t.stdout).toMatch(/^Tracing SMP calls\.\.\. Hit Ctrl-C to end\.\n\n\d\d:\d\d:\d\d\n/);
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('smpcalls', [['--bogus'], ['-p', '999999999'], ['-p', 'x'], ['x'], ['1', '0'], ['1', '2', '3']]);
  expectRefusedUnprivileged('smpcalls');
});
