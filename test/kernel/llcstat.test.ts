// llcstat samples the hardware cache-references and cache-misses events: this VM has no hardware PMU,
// so perf_event_open fails and the tool says so in one line with the kernel's own error, exit 1,
// nothing left loaded. (Where a PMU exists the same invocation prints BCC's table.)
import { spawnSync } from 'node:child_process';
import { expectUsageErrors, loadedProgramsNamed, runTool } from './helpers.js';

/** Whether perf can count cache misses here: the kernel lists the event of a hardware PMU in sysfs. */
const hasPmu = spawnSync('sh', ['-c', 'ls /sys/bus/event_source/devices/cpu/events/cache-misses']).status === 0;

(hasPmu ? test.skip : test)('no hardware PMU: one line naming it and the perf_event_open error, exit 1; -t and --json alike', () => {
  for (const args of [['1'], ['-t', '-c', '1000', '1'], ['--json', '1']]) {
    const r = runTool('llcstat', args);
    expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      args, code: 1, stdout: '', stderr: 'llcstat: this machine has no hardware PMU (perf_event_open of cache misses: ENOENT)\n',
    });
  }
  expect(loadedProgramsNamed(['on_cache_miss', 'on_cache_ref'])).toEqual([]);
});

test('--help shows BCC options; bad input: one line and exit 2', () => {
  const help = runTool('llcstat', ['-h']);
  expect(help.code).toBe(0);
  for (const o of ['-c SAMPLE_PERIOD, --sample-period SAMPLE_PERIOD', '-t, --tid', '[duration]']) expect(help.stdout).toContain(o);
  expectUsageErrors('llcstat', [['--bogus'], ['-c', '0'], ['-c', 'x'], ['0'], ['x'], ['1', '2']]);
});
