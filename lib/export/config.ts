// bpfkit export's configuration file (YAML): which catalogue tools run, with which arguments, and what
// of their --json records becomes which metric. Checked whole before anything starts; each error names
// its place in the file ("bpfkit-export.yaml:12: ...").
import fs from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { loadSpec } from '../cli/catalogue.js';
import { checkArguments, recordShape, type ToolSpec } from '../cli/index.js';
import { histogramLabelProblem, rowFieldProblem } from './metrics.js';
import { healthMetricNames } from './health.js';
import { outputKinds } from '../cli/catalogue.js';

export { healthMetricNames };

export type MetricType = 'histogram' | 'counter' | 'gauge';

export interface MetricConfig {
  name: string;
  type: MetricType;
  help: string;
  /** Histograms: the one section label (biolatency -D: disk). Counters and gauges: row or event fields. */
  labels: string[];
  /** Counters and gauges of counts/top rows: the row field holding the number. Events: each counts 1. */
  value?: string;
  maxSeries: number;
  /** Where in the file it was defined, for errors found once records arrive. */
  place: string;
}

export interface ToolConfig {
  tool: string;
  /** The arguments as configured, and as run (with --json and the interval added). */
  args: string[];
  argv: string[];
  file: string;
  intervalS: number;
  metrics: MetricConfig[];
  place: string;
}

export interface ExportConfig { tools: ToolConfig[]; listen?: string }

/** A bad configuration: its message starts with the file and line. Exit 2. */
export class ConfigError extends Error {}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export async function loadConfig(file: string): Promise<ExportConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (node: Node | null | undefined) => `${file}:${node?.range ? lines.linePos(node.range[0]).line : 1}`;
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  }
  function fail(node: Node | null | undefined, msg: string): never {
    throw new ConfigError(`${at(node)}: ${msg}`);
  }
  const root = doc.contents;
  if (!isMap(root)) fail(root, 'expected a mapping with a tools: list');
  const get = (map: any, key: string): Node | undefined => map.items.find((p: any) => p.key?.value === key)?.value ?? undefined;
  const keysOf = (map: any, allowed: string[], what: string) => {
    for (const p of map.items) if (!allowed.includes(p.key?.value)) fail(p.key, `unknown key '${p.key?.value}' in ${what} (known: ${allowed.join(', ')})`);
  };
  const scalar = (node: Node | undefined, what: string): unknown => {
    if (node === undefined) return undefined;
    if (!isScalar(node)) fail(node, `${what} must be a single value`);
    return (node as any).value;
  };
  const positiveNumber = (node: Node | undefined, what: string, fallback: number): number => {
    const v = scalar(node, what);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v > 0)) fail(node, `${what} must be a number above 0, not '${v}'`);
    return v as number;
  };
  const strings = (node: Node | undefined, what: string): string[] => {
    if (node === undefined) return [];
    if (!isSeq(node)) fail(node, `${what} must be a list`);
    return (node as any).items.map((n: Node) => {
      const v = scalar(n, `each of ${what}`);
      if (typeof v !== 'string' && typeof v !== 'number') fail(n, `each of ${what} must be a string`);
      return String(v);
    });
  };

  keysOf(root, ['listen', 'interval', 'max_series', 'tools'], 'the file');
  const listenNode = get(root, 'listen');
  const listen = listenNode === undefined ? undefined : String(scalar(listenNode, 'listen'));
  const interval = positiveNumber(get(root, 'interval'), 'interval', 5);
  const maxSeries = positiveNumber(get(root, 'max_series'), 'max_series', 1000);
  const toolsNode = get(root, 'tools');
  if (!isSeq(toolsNode) || toolsNode.items.length === 0) fail(toolsNode ?? root, 'tools: must be a list of at least one tool');

  const names = new Map<string, string>(healthMetricNames.map(n => [n, 'bpfkit export itself']));
  const claim = (name: string, node: Node, suffixes: string[]) => {
    for (const n of [name, ...suffixes.map(s => name + s)]) {
      const before = names.get(n);
      if (before) fail(node, `metric name '${n}' is already used (${before})`);
    }
    for (const n of [name, ...suffixes.map(s => name + s)]) names.set(n, `at ${at(node)}`);
  };

  const tools: ToolConfig[] = [];
  for (const t of (toolsNode as any).items as Node[]) {
    if (!isMap(t)) fail(t, 'each tool must be a mapping with tool: and metrics:');
    keysOf(t, ['tool', 'args', 'interval', 'metrics'], 'a tool');
    const nameNode = get(t, 'tool');
    const tool = scalar(nameNode, 'tool');
    if (typeof tool !== 'string') fail(nameNode ?? t, 'tool: must name a catalogue tool');
    const spec = await loadSpec(tool as string);
    if (!spec) fail(nameNode, `unknown tool '${tool}' (see: bpfkit list)`);
    const argsNode = get(t, 'args');
    const args = strings(argsNode, 'args');
    if (args.includes('--json')) fail(argsNode, 'args: --json is added by the exporter');
    const intervalS = positiveNumber(get(t, 'interval'), 'interval', interval);
    const argv = withInterval(spec!, args, intervalS) ?? fail(nameNode, `${tool} does not report at intervals (it has no interval argument)`);
    const bad = await checkArguments(spec!, argv);
    if (bad) fail(argsNode ?? nameNode, `${tool} ${args.join(' ')}: ${bad}`);
    // what its records hold with these arguments, where the tool declares it: labels checked now, not at the first record
    const shape = await recordShape(spec!, argv);

    const metricsNode = get(t, 'metrics');
    if (!isSeq(metricsNode) || metricsNode.items.length === 0) fail(metricsNode ?? t, `metrics: must list at least one metric of ${tool}`);
    const kinds = outputKinds(spec!);
    const metrics: MetricConfig[] = [];
    for (const m of (metricsNode as any).items as Node[]) {
      if (!isMap(m)) fail(m, 'each metric must be a mapping with name: and type:');
      keysOf(m, ['name', 'type', 'help', 'labels', 'value', 'max_series'], 'a metric');
      const n = get(m, 'name');
      const name = scalar(n, 'name');
      if (typeof name !== 'string' || !metricName.test(name)) fail(n ?? m, `metric name '${name ?? ''}' is not a Prometheus metric name`);
      const typeNode = get(m, 'type');
      const type = scalar(typeNode, 'type');
      if (type !== 'histogram' && type !== 'counter' && type !== 'gauge') fail(typeNode ?? m, `type must be histogram, counter or gauge, not '${type ?? ''}'`);
      if (type === 'histogram' && !kinds.includes('histogram')) fail(typeNode, `${tool} prints no histograms (its --json output: ${kinds.join(', ')})`);
      if (type !== 'histogram' && !kinds.some(k => k === 'counts' || k === 'top' || (k === 'event' && type === 'counter')))
        fail(typeNode, `${tool} has no rows for a ${type} (its --json output: ${kinds.join(', ')})`);
      const labelsNode = get(m, 'labels');
      const labels = strings(labelsNode, 'labels');
      for (const l of labels) if (!labelName.test(l) || l === 'le' || l.startsWith('__')) fail(labelsNode, `'${l}' is not a label name to use`);
      if (new Set(labels).size !== labels.length) fail(labelsNode, 'a label is named twice');
      if (type === 'histogram' && labels.length > 1) fail(labelsNode, 'a histogram takes one label at most: its sections\' key');
      const valueNode = get(m, 'value');
      const value = scalar(valueNode, 'value');
      if (value !== undefined && (typeof value !== 'string' || type === 'histogram')) fail(valueNode, type === 'histogram' ? 'a histogram has no value: field' : 'value: must name a field');
      if (value === undefined && type === 'gauge') fail(m, 'a gauge needs value: (the row field it shows)');
      if (value === undefined && type === 'counter' && !kinds.includes('event')) fail(m, `a counter of ${tool}'s rows needs value: (the row field it sums)`);
      if (type === 'counter' && !name.endsWith('_total')) fail(n, `a counter's name ends in _total (Prometheus' convention): ${name}_total`);
      const unproduced = !shape ? undefined
        : type === 'histogram' ? histogramLabelProblem(tool as string, labels[0], shape.sectionBy)
        : shape.fields && rowFieldProblem(tool as string, labels, value as string | undefined, shape.fields);
      if (unproduced) fail((unproduced.startsWith('value') ? valueNode : labelsNode) ?? m, unproduced);
      claim(name, n!, type === 'histogram' ? ['_bucket', '_sum', '_count'] : []);
      const helpNode = get(m, 'help');
      metrics.push({
        name, type, labels, value: value as string | undefined,
        help: helpNode === undefined ? `${tool} ${args.join(' ')}`.trim() + ` (bpfkit export)` : String(scalar(helpNode, 'help')),
        maxSeries: positiveNumber(get(m, 'max_series'), 'max_series', maxSeries), place: at(m),
      });
    }
    tools.push({ tool: tool as string, args, argv, file: spec!.file, intervalS, metrics, place: at(t) });
  }
  return { tools, listen };
}

/**
 * The tool's arguments with --json and its reporting interval: BCC's `-i` option where the tool has it
 * (syscount, funccount), else the [interval] positional (runqlat 5); event tools run as they are.
 * Undefined for a tool with none of these.
 */
function withInterval(spec: ToolSpec<any>, args: string[], seconds: number): string[] | undefined {
  if (spec.options.interval) return ['--json', ...args, '-i', String(seconds)];
  if (spec.positional?.startsWith('[interval]')) return ['--json', ...args, String(seconds)];
  if (outputKinds(spec).includes('event')) return ['--json', ...args]; // each event counted as it comes
  return undefined;
}
