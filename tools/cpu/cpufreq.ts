#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// cpufreq: sample the CPUs' clock frequencies, system-wide and by process, as linear histograms in
// 200 MHz steps (libbpf-tools' cpufreq, after the book's cpufreq.bt: -d, -f, its output). Each
// CPU's frequency starts from cpufreq's scaling_cur_freq and follows power:cpu_frequency; a
// perf_event timer samples every CPU at -f Hz and counts the frequency of the CPU and who runs there.
// Without cpufreq (a VM without a frequency driver, as here) there is nothing to sample: it says so.
import fs from 'node:fs';
import { onlineCpus } from '../../lib/bpf.js';
import { defineTool, opt, positiveInt, ToolError } from '../../lib/cli/index.js';
import { formatLinearHist, linearHistJson } from '../../lib/output/index.js';

const MAX_CPUS = 256;
const STEP_MHZ = 200;
const CPUFREQ = '/sys/devices/system/cpu/cpu0/cpufreq';

const program = `
#include <bpfkit.h>

#define MAX_CPUS ${MAX_CPUS}
#define STEP_MHZ ${STEP_MHZ}
#define MAX_SLOTS 64

u32 freqs_mhz[MAX_CPUS];   /* written by user space before attaching, then by the tracepoint */

BPF_ARRAY(syswide, u64, MAX_SLOTS);
struct comm_key { char comm[TASK_COMM_LEN]; u32 slot; };
BPF_HISTOGRAM(by_comm, struct comm_key);

TRACEPOINT_PROBE(power, cpu_frequency)
{
	u32 cpu = args->cpu_id;
	if (cpu < MAX_CPUS)
		freqs_mhz[cpu] = args->state / 1000;   /* kHz */
	return 0;
}

SEC("perf_event")
int sample_freq(struct bpf_perf_event_data *ctx)
{
	u32 cpu = bpf_get_smp_processor_id();
	if (cpu >= MAX_CPUS)
		return 0;
	u32 slot = freqs_mhz[cpu] / STEP_MHZ;
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	u64 *c = bpf_map_lookup_elem(&syswide, &slot);
	if (c)
		__sync_fetch_and_add(c, 1);
	if (!bpfkit_tgid())
		return 0;   /* idle */
	struct comm_key key = { .slot = slot };
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	map_increment(by_comm, key);
	return 0;
}
`;

interface Options {
  duration?: number;
  frequency: number;
}

defineTool<Options>({
  name: 'cpufreq',
  subsystem: 'cpu',
  description: 'Sample CPU frequency system-wide and by process',
  ports: { 'libbpf-tools': 'libbpf-tools/cpufreq.bpf.c', bpftrace: 'tools/cpufreq.bt', book: 'chapter 6, CPUs' },
  probes: { tracepoint: ['power/cpu_frequency'], perf_event: ['cpu-clock at -f Hz on every CPU'] },
  output: 'histogram',
  invocations: [{ args: ['-d', '1'], ends: 'itself', needs: CPUFREQ }],
  records: () => ({ sectionBy: 'comm' }),
  program,
  options: {
    duration: opt.duration(),
    frequency: { alias: 'f', type: 'string', default: 50, describe: 'Sample with a certain frequency', coerce: positiveInt('frequency') },
  },
  examples: [
    ['cpufreq', 'sample CPU frequency until Ctrl-C'],
    ['cpufreq -d 10', 'sample for 10 seconds'],
    ['cpufreq -f 99', 'sample at 99 Hz'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    if (!fs.existsSync(CPUFREQ)) throw new ToolError(`this machine has no cpufreq (${CPUFREQ} absent): no CPU frequencies to sample`);
    const bpf = load();
    const globals = bpf.globals('.bss');
    const freqs: number[] = globals.freqs_mhz;
    for (const cpu of onlineCpus()) {
      if (cpu >= MAX_CPUS) continue;
      try {
        freqs[cpu] = Math.floor(Number(fs.readFileSync(`/sys/devices/system/cpu/cpu${cpu}/cpufreq/scaling_cur_freq`, 'utf8')) / 1000);
      } catch { /* that CPU has no frequency driver: 0 MHz until a cpu_frequency event */ }
    }
    globals.freqs_mhz = freqs;
    bpf.attachAll();
    bpf.attachPerfEvent('sample_freq', { frequency: opts.frequency });
    banner('Sampling CPU freq system-wide & by process. Ctrl-C to end.');
    await untilExit(opts.duration);
    const slotsOf = (m: Map<number, number>) => Array.from({ length: Math.max(0, ...m.keys()) + 1 }, (_, i) => m.get(i) ?? 0);
    const byComm = new Map<string, Map<number, number>>();
    for (const [k, v] of bpf.map<{ comm: string; slot: number }, bigint>('by_comm').entries()) {
      const m = byComm.get(k.comm) ?? new Map<number, number>();
      m.set(k.slot, Number(v));
      byComm.set(k.comm, m);
    }
    const sys = new Map(bpf.map<number, bigint>('syswide').entries().map(([k, v]) => [k, Number(v)]));
    if (json) {
      emit.histogram({ val_type: 'MHz', scale: 'linear', section_by: 'comm', sections: [...byComm, ['syswide', sys] as const].map(([comm, m]) => {
        const { buckets, total } = linearHistJson(slotsOf(m), 'MHz', 0, STEP_MHZ);
        return { key: comm, total, buckets };
      }) });
      return;
    }
    // libbpf-tools: a histogram per process name (its name as the value label), then the system's
    for (const [comm, m] of byComm) out.write('\n' + formatLinearHist(slotsOf(m), comm, { stripLeadingZero: true, step: STEP_MHZ }));
    out.write('\n' + formatLinearHist(slotsOf(sys), 'syswide', { stripLeadingZero: true, step: STEP_MHZ }));
  },
});
