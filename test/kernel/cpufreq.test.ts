// cpufreq on this machine: the VM has no cpufreq driver (/sys/devices/system/cpu/cpu0/cpufreq is
// absent), so there is no frequency to sample: the tool says so in one line and exits 1, loading
// nothing (as libbpf-tools' cpufreq, which fails on scaling_cur_freq here). On a machine with
// cpufreq the same test expects the sampled histograms. Bad input: one line, exit 2.
import fs from 'node:fs';
import { expectUsageErrors, runTool } from './helpers.js';

const hasCpufreq = fs.existsSync('/sys/devices/system/cpu/cpu0/cpufreq');

test(hasCpufreq ? 'samples: a syswide histogram in 200 MHz steps' : 'no cpufreq here: one line naming it, exit 1', () => {
  const r = runTool('cpufreq', ['-d', '1']);
  if (!hasCpufreq) {
    expect({ code: r.code, stderr: r.stderr, stdout: r.stdout })
      .toEqual({ code: 1, stderr: 'cpufreq: this machine has no cpufreq (/sys/devices/system/cpu/cpu0/cpufreq absent): no CPU frequencies to sample\n', stdout: '' });
    return;
  }
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^ {5}syswide {7}: count {5}distribution$/m);
  expect(r.stdout).toMatch(/^ {8}\d*[02468]00 +: \d+/m);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('cpufreq', [['-f', '0'], ['-f', 'x'], ['-d', '0'], ['extra'], ['--nosuch']]);
});
