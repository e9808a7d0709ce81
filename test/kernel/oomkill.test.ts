// oomkill on the real kernel: a program in a memory cgroup limited to 32 MiB touches 1 MiB after
// 1 MiB until the cgroup's OOM killer ends it: the tool shows that kill, the program as both the
// triggering process and the victim, with its PID, and about 32 MiB of resident pages. The host never
// runs short: the pressure stays inside the cgroup.
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { attached, buildC, expectRefusedUnprivileged, expectUsageErrors, startTool, tmpDir } from './helpers.js';
import { memoryCgroup } from './memcg.js';

const dir = tmpDir('bpfkit-oomkill-');
const hog = path.join(dir, 'hog');
beforeAll(() => buildC(hog, `#include <stdlib.h>
#include <string.h>
char *volatile last;
__attribute__((noinline)) void touch_more(void)
{
	char *p = malloc(1 << 20);
	if (p)
		memset(p, 1, 1 << 20);
	last = p; /* kept: the compiler may not drop the pages */
}
int main(void)
{
	for (int i = 0; i < 1024; i++) /* 1 GiB: far past the cgroup's 32 MiB */
		touch_more();
	return 0;
}
`));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a process past its cgroup\'s 32 MiB is killed and shown with its PID, as trigger and victim', async () => {
  const cg = memoryCgroup('bpfkit-oomkill', 32 << 20);
  try {
    const text = startTool('oomkill');
    const json = startTool('oomkill', ['--json']);
    await attached(text);
    await attached(json);
    const run = cg.gated([hog]);
    run.release();
    await run.exited;
    expect(run.child.signalCode).toBe('SIGKILL');
    const pid = run.pid;
    const line = await text.waitFor(new RegExp(`^\\d\\d:\\d\\d:\\d\\d Triggered by PID ${pid} \\("hog"\\), OOM kill of PID ${pid} \\("hog"\\), (\\d+) pages, loadavg: [\\d.]+ [\\d.]+ [\\d.]+ \\d+/\\d+ \\d+$`, 'm'));
    // resident when killed: most of the cgroup's 8192 pages of anonymous memory, plus the file pages
    // of its libc and loader (mapped, resident, charged to whoever read them first: not this cgroup)
    expect(Number(line[1])).toBeGreaterThan(4096);
    expect(Number(line[1])).toBeLessThanOrEqual(8192 + 1024);
    await text.waitFor(/^ {2}Stack trace:\n {4}.*\n/m);
    await json.waitFor(/"victim_pid"/);
    expect(await text.stop()).toBe(0);
    expect(await json.stop()).toBe(0);
    expect(text.stdout().split('\n')[0]).toBe('Tracing OOM kills... Ctrl-C to stop.');
    expect(text.stderr()).toBe('oomkill: traced at oom:mark_victim, pages are the victim\'s resident pages: this kernel has no kprobes or fentry for oom_kill_process\n');
    const records = json.stdout().trim().split('\n').map(l => JSON.parse(l)).filter(r => r.victim_pid === pid);
    expect(records).toHaveLength(1);
    expect(validateRecord(records[0])).toEqual([]);
    expect(records[0]).toMatchObject({ kind: 'event', trigger_pid: pid, trigger_comm: 'hog', victim_comm: 'hog', pages: Number(line[1]) });
  } finally {
    cg.remove();
  }
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('oomkill', [['-p', '1'], ['5']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('oomkill');
});
