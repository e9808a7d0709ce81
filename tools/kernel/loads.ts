#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// loads: the kernel's load averages, read from its avenrun[] array once a second (the book's and
// bpftrace's loads.bt). A perf_event timer (cpu-clock, one CPU, a 1 s period: bpftrace's interval:s:1)
// reads the three fixed-point values (11 fractional bits, FSHIFT) and sends them to user space.
//
// Where is avenrun? /proc/kallsyms lists data symbols only with CONFIG_KALLSYMS_ALL, which this kernel
// lacks (bpftrace's kaddr("avenrun") fails here too). Then the BPF side finds it in the code of
// get_avenrun() (listed, as a function), whose first load is `mov avenrun(%rip), %reg` on x86-64:
// the address is that instruction's end plus its 32-bit displacement.
import { defineTool, intervalCount, ToolError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { KernelSymbols } from '../../lib/syms/index.js';
import { onlineCpus } from '../../lib/bpf.js';

const program = `
#include <bpfkit.h>

const volatile u64 avenrun_addr = 0;      /* from kallsyms, when it lists data symbols */
const volatile u64 get_avenrun_addr = 0;  /* otherwise: found in this function's code */

struct loads { u64 avenrun[3]; };
BPFKIT_EXPORT_TYPE(struct loads);
BPF_RINGBUF_OUTPUT(events, 1);

#define CODE_BYTES 32
/* the target of the first "mov disp32(%rip), %reg" (REX.W 8B, ModRM mod=00 rm=101) in fn's code */
static __always_inline u64 rip_relative_load(u64 fn)
{
	u8 code[CODE_BYTES];
	if (bpf_probe_read_kernel(code, sizeof(code), (void *)fn))
		return 0;
#pragma unroll
	for (int i = 0; i + 7 <= CODE_BYTES; i++) {
		if ((code[i] & 0xf8) == 0x48 && code[i + 1] == 0x8b && (code[i + 2] & 0xc7) == 0x05) {
			s32 disp = code[i + 3] | code[i + 4] << 8 | code[i + 5] << 16 | code[i + 6] << 24;
			return fn + i + 7 + (s64)disp;
		}
	}
	return 0;
}

SEC("perf_event")
int read_loads(struct bpf_perf_event_data *ctx)
{
	u64 addr = avenrun_addr ? avenrun_addr : rip_relative_load(get_avenrun_addr);
	struct loads l = {};
	if (!addr || bpf_probe_read_kernel(&l.avenrun, sizeof(l.avenrun), (void *)addr))
		return 0;
	ringbuf_output(events, &l, sizeof(l));
	return 0;
}
`;

/** The kernel's fixed point (include/linux/sched/loadavg.h): 11 fractional bits. */
const FSHIFT = 11;
const FIXED_1 = 1 << FSHIFT;

/** bpftrace's loads.bt: the integer part and three decimals, truncated ("%d.%03d"). */
const threeDecimals = (v: bigint) => `${v >> BigInt(FSHIFT)}.${sprintf('%03d', Number(((v & BigInt(FIXED_1 - 1)) * 1000n) >> BigInt(FSHIFT)))}`;

interface Options {
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'loads',
  subsystem: 'kernel',
  description: "Print the kernel's load averages (avenrun) every second",
  ports: { bpftrace: 'tools/loads.bt', book: 'chapter 15 (bpftrace), loads.bt' },
  probes: { perf_event: ['cpu-clock, one CPU, at the interval'] },
  output: 'counts',
  invocations: [{ args: ['1', '2'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['load1', 'load5', 'load15'] }),
  program,
  options: {},
  positional: '[interval] [count]',
  examples: [
    ['loads', 'print the load averages every second'],
    ['loads 5 3', 'every 5 seconds, 3 times'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const { count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : intervalCount(opts).interval; // bpftrace's interval:s:1
    const ksyms = KernelSymbols.load();
    const avenrun = ksyms.address('avenrun') ?? 0n;
    const getAvenrun = ksyms.address('get_avenrun') ?? 0n;
    if (!avenrun && (!getAvenrun || process.arch !== 'x64')) {
      throw new ToolError(ksyms.restricted
        ? 'kernel addresses are hidden (kptr_restrict): cannot find avenrun'
        : 'avenrun is not in /proc/kallsyms (no CONFIG_KALLSYMS_ALL) and get_avenrun cannot be decoded on this architecture');
    }
    const bpf = load({ rodata: { avenrun_addr: avenrun, get_avenrun_addr: getAvenrun } });
    let printed = 0;
    let since = process.hrtime.bigint();
    bpf.events<{ avenrun: bigint[] }>('events', 'loads', l => {
      if (printed >= count) return;
      const now = process.hrtime.bigint();
      const [l1, l5, l15] = l.avenrun;
      if (json) {
        const value = (v: bigint) => Number(v) / FIXED_1;
        emit.counts(Math.max(1, Math.round(Number(now - since) / 1e6)) / 1000, [{ load1: value(l1), load5: value(l5), load15: value(l15) }]);
      } else {
        out.line(`${strftimeHMS()} load averages: ${threeDecimals(l1)} ${threeDecimals(l5)} ${threeDecimals(l15)}`);
      }
      out.flush();
      since = now;
      if (++printed >= count) done();
    });
    let done = () => {};
    const finished = new Promise<void>(resolve => (done = resolve));
    bpf.attachPerfEvent('read_loads', { period: Math.round(interval * 1e9), cpus: [onlineCpus()[0]] });
    banner('Reading load averages... Hit Ctrl-C to end.');
    await Promise.race([finished, untilExit()]);
  },
});
