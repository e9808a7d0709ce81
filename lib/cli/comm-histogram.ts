// The skeleton bitesize and seeksize share: a log2 histogram per process name of block requests,
// counted at block_rq_issue by a program built on bpf-c/include/bpfkit_comm_hist.h, with
// libbpf-tools' -c COMM, -d DISK, -T and [interval] [count]. A tool gives its program, unit and words.
import { defineTool, diskRodata, intervalCount, opt, type ReferenceSource, type ToolSpec } from './index.js';

interface CommHistogramOptions {
  comm?: string;
  disk?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

export interface CommHistogramTool {
  name: string;
  description: string;
  ports: Partial<Record<ReferenceSource, string>>;
  program: string;
  examples: [string, string][];
  /** The banner, "Tracing block I/O... Hit Ctrl-C to end." */
  banner: string;
  /** The histogram's unit label (BCC's val_type): "Kbytes", "sectors". */
  unit: string;
  /** The text's section header ("Process Name" for bitesize, as BCC's); JSON's section_by is "comm". */
  sectionHeader: string;
}

export function defineCommHistogramTool(t: CommHistogramTool): ToolSpec<CommHistogramOptions> {
  return defineTool<CommHistogramOptions>({
    name: t.name,
    subsystem: 'disk',
    description: t.description,
    ports: t.ports,
    probes: { tp_btf: ['block_rq_issue'], raw_tp: ['block_rq_issue'] },
    output: 'histogram',
    invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
    records: () => ({ sectionBy: 'comm' }), // the JSON section header below
    program: t.program,
    options: {
      comm: opt.comm('trace this comm only (a process name, or its beginning)'),
      disk: opt.disk(),
      timestamp: opt.flag('T', 'include timestamp on output'),
    },
    positional: '[interval] [count]',
    examples: t.examples,

    async run({ opts, load, out, json, emit, banner, intervals }) {
      const { interval, count } = intervalCount(opts);
      const bpf = load({ rodata: { targ_comm: opts.comm ?? '', ...diskRodata(opts.disk) } });
      bpf.attachAll();
      const dist = bpf.histogram('dist');
      banner(t.banner);
      await intervals(interval, count, () => dist.printInterval({ out, emit, json }, t.unit, { sectionHeader: t.sectionHeader }, { timestamp: opts.timestamp, jsonOpts: { sectionHeader: 'comm' } }));
    },
  });
}
