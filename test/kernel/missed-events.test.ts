// BPF.missedEvents() on the real kernel: a raw_tp program on bpf_trace_printk that itself calls
// bpf_printk re-enters its own tracepoint, and the kernel skips that nested run (the program is
// already running on that CPU): one recursion miss per getppid(2) of a test program, for each of
// which the sys_enter program prints once.
import fs from 'node:fs';
import path from 'node:path';
import { BPF } from '../../lib/bpf.js';
import { heldProgram, tmpDir } from './helpers.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const GETPPID = process.arch === 'arm64' ? 173 : 110;
const CALLS = 500;

test('each nested run the kernel skips is counted: N getppid() calls, N missed events', async () => {
  const program = heldProgram(path.join(dir, 'getppid'), '', `for (int i = 0; i < ${CALLS}; i++) syscall(SYS_getppid);`);
  await program.started();
  const bpf = BPF.load({
    name: 'missed_test',
    rodata: { targ_tgid: program.pid, targ_nr: GETPPID },
    text: `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
const volatile long targ_nr = 0;
SEC("raw_tp/sys_enter")
int BPF_PROG(on_enter, struct pt_regs *regs, long id)
{
	if (bpfkit_tgid() == targ_tgid && id == targ_nr)
		bpf_printk("bpfkit missed-events test");
	return 0;
}
SEC("raw_tp/bpf_trace_printk")
int BPF_PROG(on_printk)
{
	bpf_printk("bpfkit missed-events test, nested");
	return 0;
}`,
  });
  try {
    expect(bpf.attachAll()).toBe(2);
    expect(bpf.missedEvents()).toBe(0);
    await program.release();
    // at least ours; another process's bpf_printk meanwhile would add its own
    expect(bpf.missedEvents()).toBeGreaterThanOrEqual(CALLS);
    expect(bpf.missedEvents()).toBeLessThan(CALLS + 50);
  } finally {
    bpf.close();
    program.end();
  }
});
