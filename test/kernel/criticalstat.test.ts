// criticalstat needs the preemptirq tracepoints, which this kernel is built without (no substitute
// exists: nothing else fires where IRQs or preemption are disabled and enabled): one line naming
// them, exit 1, nothing left loaded. Where tracefs has them, the tool traces (not checkable here).
import fs from 'node:fs';
import { expectUsageErrors, loadedProgramsNamed, runTool } from './helpers.js';

const haveTracepoints = fs.existsSync('/sys/kernel/tracing/events/preemptirq/irq_disable');

(haveTracepoints ? test.skip : test)('no preemptirq tracepoints here: one line naming them, exit 1, for -i and -p', () => {
  for (const [args, events] of [[[], 'irq_disable/irq_enable'], [['-p', '-d', '500'], 'preempt_disable/preempt_enable']] as const) {
    const r = runTool('criticalstat', [...args]);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 1, stdout: '', stderr: expect.stringMatching(new RegExp(`^criticalstat: this kernel has no preemptirq:${events} tracepoints \\(CONFIG_PREEMPTIRQ_TRACEPOINTS[^\\n]*\\)\\n$`)),
    });
  }
  expect(loadedProgramsNamed(['irq_disable', 'irq_enable', 'preempt_disable', 'preempt_enable'])).toEqual([]);
});

test('--help shows BCC options; bad input: one line and exit 2', () => {
  const help = runTool('criticalstat', ['-h']);
  expect(help.code).toBe(0);
  for (const o of ['-p, --preemptoff', '-i, --irqoff', '-d DURATION, --duration DURATION']) expect(help.stdout).toContain(o);
  expectUsageErrors('criticalstat', [['--bogus'], ['-d', 'x'], ['-d', '-5'], ['-p', '-i'], ['extra']]);
});
