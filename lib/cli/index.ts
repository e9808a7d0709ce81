// defineTool(): the skeleton every tool shares — BCC-style flags through yargs, --json, the banner,
// the interval/count loop, Ctrl-C/SIGTERM (final summary, detach, exit 0), and errors as one line
// (usage: exit 2; runtime: exit 1; --debug shows the stack). The shared options are in options.ts.
import fs from 'node:fs';
import type { Options } from 'yargs';
import yargsParser from 'yargs-parser';
import { BPF, type LoadOptions, type Substitute } from '../bpf.js';
import type { ProbeKind } from '../attach/sections.js';
import { positionalChecks, UsageError, type ToolOption } from './options.js';
import { OutputWriter, recordEmitter, type OutputKind, type RecordEmitter } from '../output/index.js';
import { setDebugLog } from '../libbpf/index.js';
import { drainOpenRings } from '../events/ringbuf.js';
import { formatHelp, kebabCase, optionAliases } from './help.js';
import { exitProcess } from './exit.js';
import { missingDriver, type DriverCheck } from '../host/drivers.js';

export { diskRodata, durationSeconds, intervalCount, intervalSchedule, nonNegativeInt, opt, positiveInt, positiveSeconds, UsageError, type OptionMeaning, type ToolOption } from './options.js';

export type Subsystem = 'cpu' | 'mem' | 'disk' | 'fs' | 'net' | 'sched' | 'lang' | 'app' | 'kernel' | 'sec';

/** The projects whose tools bpfkit ports (../shared/notes/tools-inventory.tsv's sources). */
export type ReferenceSource = 'bcc' | 'libbpf-tools' | 'bpftrace' | 'book';

/**
 * A basic invocation (BCC's usual ones), run by the catalogue smoke test: `itself` for tools that end
 * on their own (`1 1`, a duration), `ctrl-c` for tools that trace until interrupted.
 */
export interface Invocation {
  args: string[];
  ends: 'itself' | 'ctrl-c';
  /**
   * A file the tool needs (e.g. /sys/devices/system/cpu/cpu0/cpufreq): where it is absent, the
   * catalogue tests expect the one line naming what is missing and exit 1 instead.
   */
  needs?: string;
  /** Why this machine may give it nothing to report (one NUMA node...): --json may print no record. */
  quiet?: string;
}

export interface ToolSpec<O> {
  name: string;
  subsystem: Subsystem;
  /** One line, shown by `bpfkit list` and -h. */
  description: string;
  /** The BPF C program (BCC style, `#include <bpfkit.h>`). */
  program: string;
  /** yargs options, BCC's letters (-p, -T, -t, -m, ...); the shared ones come from `opt`. */
  options: Record<string, ToolOption>;
  /** Positionals after the options, e.g. "[interval] [count]" (interval, count, duration are checked here). */
  positional?: string;
  /** The reference tool's own short flag for JSON output (tcpsubnet's -J): a second name of --json. */
  jsonFlag?: string;
  examples?: [string, string][];
  /** Extra validation after parsing: return a usage error message, or nothing. */
  validate?: (opts: O) => string | undefined;
  run(ctx: ToolContext<O>): Promise<void> | void;
  /** The reference tools it ports, by project: that project's file (e.g. bcc: 'tools/execsnoop.py'). */
  ports: Partial<Record<ReferenceSource, string>>;
  /**
   * Its probes by kind, targets as its SEC() names spell them ("syscalls/sys_enter_execve",
   * "sched_switch", "vfs_read"); a fallback chain lists each kind it has. Checked against the program.
   */
  probes: Partial<Record<ProbeKind, string[]>>;
  /** Programs that stand in for the reference probes where this kernel lacks them (loaded by ctx.load). */
  substitutes?: Substitute[];
  /** The kernel driver whose events it traces (md, SCSI, NVMe): without it the tool stops with one line. */
  requires?: DriverCheck;
  /** What --json prints (docs/json.md); several kinds when options change it. */
  output: OutputKind | OutputKind[];
  /** Its basic invocations, for the catalogue smoke test. */
  invocations: Invocation[];
  /**
   * What its --json records hold with these options, where that does not depend on the data: bpfkit
   * export checks a config's labels and values against it before starting anything. json.test checks
   * every record of the tool's invocations against it. Undefined for options whose records' fields
   * depend on the data (bpflist -vv): those are checked at the first record.
   */
  records?: (opts: O) => RecordShape | undefined;
}

/** The fields of a tool's records (ToolSpec.records). */
export interface RecordShape {
  /** Histogram records: the key their sections are by (biolatency -D: 'disk'); none: one histogram. */
  sectionBy?: string;
  /** The fields of every row of counts/top records, or of every event record (time, tool, kind aside). */
  fields?: string[];
}

/** Raised inside a tool to stop with one line and exit 1. */
export class ToolError extends Error {}

/**
 * Tools defined so far when imported in catalogue mode (bpfkit list, docs, precompile). Kept on
 * globalThis: each tool's bundle carries its own copy of this module.
 */
const registry: ToolSpec<any>[] = ((globalThis as any).__bpfkitTools ??= []);
export function definedTools(): ToolSpec<any>[] {
  return registry;
}

export interface ToolContext<O> {
  opts: O & { json: boolean; debug: boolean };
  out: OutputWriter;
  json: boolean;
  /** --json records (docs/json.md), written to `out`: emit.event({...}), emit.histogram(...), ... */
  emit: RecordEmitter;
  spec: ToolSpec<O>;
  /**
   * Compiles (cached) and loads the tool's program; it is closed on exit. `text` replaces the
   * program with one generated at run time (the generic tools: lib/probes/codegen.ts).
   */
  load(opts?: Omit<LoadOptions, 'file' | 'elf' | 'name'>): BPF;
  /** Prints "Tracing ... Hit Ctrl-C to end." (to stderr in JSON mode, so stdout stays JSON). */
  banner(text: string): void;
  /** Resolves on Ctrl-C, SIGTERM, or after `seconds` when given. */
  untilExit(seconds?: number): Promise<void>;
  /**
   * BCC's [interval [count]] loop: calls tick every `interval` seconds, `count` times, and once more
   * (as the last) on Ctrl-C/SIGTERM. tick(last, seconds) gets the seconds the interval really lasted
   * (to the ms: a Ctrl-C'd one is shorter), for the interval_s of --json records.
   */
  intervals(interval: number, count: number, tick: (last: boolean, seconds: number) => void): Promise<void>;
  /** Wall-clock ns of the monotonic clock (bpf_ktime_get_ns) now. */
  monotonicNs(): bigint;
  /** True once Ctrl-C or SIGTERM was received. */
  readonly exiting: boolean;
}

let exitRequested = false;
const exitWaiters: (() => void)[] = [];
function requestExit() {
  if (!exitRequested) drainOpenRings(); // records the consumer has not looked at yet: before the summary
  exitRequested = true;
  for (const w of exitWaiters.splice(0)) w();
}

/** Whether this process may load BPF: root, or CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON. */
export function hasBpfPrivileges(): boolean {
  if (process.geteuid?.() === 0) return true;
  try {
    const m = /CapEff:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    const caps = BigInt('0x' + (m?.[1] ?? '0'));
    const has = (bit: number) => (caps >> BigInt(bit)) & 1n;
    return !!has(21) || (!!has(39) && !!has(38));
  } catch {
    return false;
  }
}

function fail(spec: ToolSpec<any>, e: unknown, debug: boolean): never {
  const usage = e instanceof UsageError;
  // library errors name the object, which is the tool itself: don't say it twice
  const msg = (e instanceof Error ? e.message : String(e)).replace(new RegExp(`^${spec.name}: `), '');
  process.stderr.write(`${spec.name}: ${msg}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  exitProcess(usage ? 2 : 1);
}

const commonOptions: Record<string, Options> = {
  json: { type: 'boolean', default: false, describe: 'print newline-delimited JSON instead of text' },
  debug: { type: 'boolean', default: false, describe: 'show libbpf messages and stack traces' },
};

export { kebabCase, optionAliases };

/** The options every tool has, with the tool's own short flag for --json where it has one. */
const commonOptionsOf = (spec: ToolSpec<any>): Record<string, Options> =>
  (spec.jsonFlag ? { ...commonOptions, json: { ...commonOptions.json, alias: spec.jsonFlag } } : commonOptions);

/** yargs' parser settings: repeated options give every value (array options collect them: -f A -f B). */
const parserConfiguration = { 'duplicate-arguments-array': true, 'camel-case-expansion': true };

/** A non-array option given more than once keeps its last value, as argparse does. */
function keepLastValues(options: Record<string, Options>, argv: Record<string, any>): void {
  for (const [name, o] of Object.entries(options)) {
    if (o.array) continue;
    for (const k of [name, kebabCase(name), ...optionAliases(o)]) if (Array.isArray(argv[k])) argv[k] = argv[k][argv[k].length - 1];
  }
}

const positionalNames = (spec: ToolSpec<any>): string[] => (spec.positional ? (spec.positional.match(/\w+/g) ?? []) : []);

/** The positionals with a shared meaning (interval, count, duration) are checked for every tool. */
function checkPositionals(spec: ToolSpec<any>, argv: Record<string, any>): void {
  for (const p of positionalNames(spec)) positionalChecks[p]?.(argv[p]);
}

/** The options as yargs takes them: long names as BCC spells them, without bpfkit's own fields. */
function yargsOptions(options: Record<string, ToolOption>): Record<string, Options> {
  return Object.fromEntries(Object.entries(options).map(([k, { meaning: _meaning, ...yargsOption }]) => [kebabCase(k), yargsOption]));
}

/**
 * Start-up fast path: yargs-parser (yargs' own parser, ~10 ms) with the same configuration. Full yargs
 * costs ~90 ms to import, so it is loaded only for -h and for input the fast path does not accept
 * (unknown options, bad values, extra positionals) — yargs then produces the canonical message.
 */
export function fastParse(spec: ToolSpec<any>, argv: string[]): Record<string, any> | undefined {
  if (argv.some(a => a === '-h' || a === '--help')) return undefined;
  const options = { ...spec.options, ...commonOptionsOf(spec) };
  const cfg = { alias: {} as Record<string, string[]>, boolean: [] as string[], string: [] as string[], number: [] as string[],
    array: [] as string[], count: [] as string[], default: {} as Record<string, unknown>, coerce: {} as Record<string, (v: any) => any> };
  const known = new Set<string>(['_', '$0']);
  for (const [name, o] of Object.entries(options)) {
    const aliases = optionAliases(o);
    cfg.alias[name] = aliases;
    for (const k of [name, kebabCase(name), ...aliases]) known.add(k);
    if (o.type === 'boolean' || o.type === 'string' || o.type === 'number') cfg[o.type].push(name);
    if (o.array) cfg.array.push(name);
    if (o.count) cfg.count.push(name); // -vv: BCC's action="count"
    if (o.default !== undefined) cfg.default[name] = o.default;
  }
  let r;
  try {
    r = argv.every(a => /^(0|[1-9]\d{0,14})$/.test(a)) ? integersOnly(cfg, argv) : yargsParser.detailed(argv, { ...cfg, configuration: parserConfiguration });
  } catch {
    return undefined;
  }
  if (r.error) return undefined;
  const out = r.argv as Record<string, any>;
  for (const k of Object.keys(out)) if (!known.has(k)) return undefined;
  keepLastValues(options, out);
  for (const [name, o] of Object.entries(options)) {
    if (!o.coerce || out[name] === undefined) continue;
    try {
      out[name] = o.coerce(out[name]);
    } catch {
      return undefined;
    }
    for (const a of cfg.alias[name]) out[a] = out[name];
  }
  const positionals = positionalNames(spec);
  const rest = (out._ as (string | number)[]).map(String);
  // a last positional written `<name...>` takes every remaining argument (trace's probes)
  const variadic = /\.\.\.[\]>]\s*$/.test(spec.positional ?? '');
  if (!variadic && rest.length > positionals.length) return undefined;
  positionals.forEach((p, i) => (out[p] = variadic && i === positionals.length - 1 ? rest.slice(i) : rest[i]));
  out._ = [];
  return out;
}

/**
 * What yargs-parser makes of integer positionals alone (`runqlat`, `runqlat 1 10`), without running its
 * parse: one large function that node compiles afresh at every start (5-10 ms). Each default is set
 * under the option's name, its kebab-case spelling and its aliases, as yargs-parser sets them.
 */
function integersOnly(cfg: { alias: Record<string, string[]>; default: Record<string, unknown>; count: string[] }, argv: string[]) {
  const out: Record<string, unknown> = { _: argv.map(Number) };
  // a count option (-vv) not given is 0, as yargs-parser has it
  const defaults = { ...Object.fromEntries(cfg.count.map(name => [name, 0])), ...cfg.default };
  for (const [name, value] of Object.entries(defaults)) for (const k of [name, kebabCase(name), ...cfg.alias[name]]) out[k] = value;
  return { argv: out, error: null };
}

async function parseArgs<O>(spec: ToolSpec<O>, argv: string[]): Promise<O & { json: boolean; debug: boolean }> {
  if (argv.some(a => a === '-h' || a === '--help')) {
    process.stdout.write(formatHelp(spec, commonOptionsOf(spec), Math.min(100, process.stdout.columns || 80)));
    process.exit(0);
  }
  const fast = fastParse(spec, argv);
  if (fast) {
    checkPositionals(spec, fast);
    const msg = spec.validate?.(fast as O);
    if (msg) throw new UsageError(msg);
    return fast as O & { json: boolean; debug: boolean };
  }
  const { default: yargs } = await import('yargs');
  const options = { ...spec.options, ...commonOptionsOf(spec) };
  const y = yargs(argv)
    .scriptName(spec.name)
    .usage(`Usage: ${spec.name} [options]${spec.positional ? ' ' + spec.positional : ''}\n\n${spec.description}`)
    // long options spelled as BCC does (--print-uid, --max-args); argv gets the camelCase key as well
    .options(yargsOptions(options))
    .help('h').alias('h', 'help')
    .version(false)
    .strict()
    .parserConfiguration(parserConfiguration)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err instanceof UsageError ? err : new UsageError(unknownOnce(msg) || err?.message || 'invalid arguments');
    });
  if (spec.positional) y.command(`$0 ${spec.positional}`, false);
  for (const [cmd, what] of spec.examples ?? []) y.example(cmd, what);
  y.showHelpOnFail(false);
  const parsed = y.parseSync() as any;
  if (parsed.help || parsed.h) process.exit(0); // yargs printed it
  if (parsed._.length > 0) throw new UsageError(`unexpected argument${parsed._.length > 1 ? 's' : ''}: ${parsed._.join(' ')}`);
  keepLastValues(options, parsed);
  for (const p of positionalNames(spec)) {
    if (Array.isArray(parsed[p])) parsed[p] = parsed[p].map(String);
    else if (parsed[p] !== undefined && typeof parsed[p] !== 'string') parsed[p] = String(parsed[p]);
  }
  checkPositionals(spec, parsed);
  const msg = spec.validate?.(parsed);
  if (msg) throw new UsageError(msg);
  return parsed;
}

/**
 * yargs lists an unknown --some-flag twice, as typed and camelCased ("Unknown arguments: some-flag,
 * someFlag"): name each one once, as typed.
 */
function unknownOnce(msg: string | undefined): string | undefined {
  const m = /^Unknown arguments?: (.*)$/.exec(msg ?? '');
  if (!m) return msg;
  const names = m[1].split(', ');
  const typed = names.filter(n => !names.some(other => other !== n && kebabCase(n) === other));
  return `Unknown argument${typed.length > 1 ? 's' : ''}: ${typed.join(', ')}`;
}

/**
 * Parses a tool's arguments as running it would (its own options, checks and validate()), without
 * running it: the one-line usage error, or undefined when they are good (the exporter's config check).
 */
export async function checkArguments(spec: ToolSpec<any>, argv: string[]): Promise<string | undefined> {
  if (argv.some(a => a === '-h' || a === '--help')) return 'help (-h) is not an argument to run with';
  try {
    await parseArgs(spec, argv);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The shape the tool declares for its records with these arguments (ToolSpec.records); undefined where it declares none. */
export async function recordShape(spec: ToolSpec<any>, argv: string[]): Promise<RecordShape | undefined> {
  return spec.records?.(await parseArgs(spec, argv));
}

/** Defines a tool; runs it unless imported for the catalogue (bpfkit list/docs/precompile). */
export function defineTool<O>(spec: ToolSpec<O>): ToolSpec<O> {
  registry.push(spec);
  if ((globalThis as any).__bpfkitCatalogue) return spec;
  queueMicrotask(() => {
    runTool(spec, process.argv.slice(2)).catch(e => fail(spec, e, process.argv.includes('--debug')));
  });
  return spec;
}

export async function runTool<O>(spec: ToolSpec<O>, argv: string[]): Promise<void> {
  let opts: O & { json: boolean; debug: boolean };
  try {
    opts = await parseArgs(spec, argv);
  } catch (e) {
    fail(spec, e, argv.includes('--debug'));
  }
  if (opts.debug) setDebugLog(true);
  if (!hasBpfPrivileges()) {
    fail(spec, new ToolError('needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs'), opts.debug);
  }
  const noDriver = spec.requires && missingDriver(spec.requires);
  if (noDriver) fail(spec, new ToolError(noDriver), opts.debug);
  const out = new OutputWriter(undefined, { onEpipe: () => exitProcess(0) });
  const objects: BPF[] = [];
  const onSignal = () => requestExit();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let substitutionSaid = false;
  const missed = () => objects.reduce((n, b) => n + b.missedEvents(), 0);
  const ctx: ToolContext<O> = {
    opts, out, json: opts.json, emit: withMissedEvents(recordEmitter(spec.name, out), missed), spec,
    load(lo = {}) {
      const b = BPF.load({ ...lo, text: lo.text ?? spec.program, name: spec.name, substitutes: spec.substitutes });
      objects.push(b);
      // the one line saying this run sees the closest events this kernel has, not the reference's
      if (b.substituted && !substitutionSaid) process.stderr.write(`${spec.name}: ${b.substituted.says}: ${b.substituted.reason}\n`);
      substitutionSaid ||= !!b.substituted;
      return b;
    },
    banner(text) {
      if (opts.json) process.stderr.write(text + '\n');
      else out.line(text);
      out.flush();
    },
    untilExit(seconds) {
      return new Promise<void>(resolve => {
        if (exitRequested) return resolve();
        exitWaiters.push(resolve);
        if (seconds && seconds > 0) {
          setTimeout(requestExit, seconds * 1000);
        } else {
          // a tool with no event stream (profile, offcputime: maps read at the end) has nothing else keeping node alive
          const keepAlive = setInterval(() => {}, 2 ** 30);
          exitWaiters.push(() => clearInterval(keepAlive));
        }
      });
    },
    async intervals(interval, count, tick) {
      let since = process.hrtime.bigint();
      for (let i = 0; i < count; i++) {
        const interrupted = await new Promise<boolean>(resolve => {
          if (exitRequested) return resolve(true);
          const t = setTimeout(() => resolve(false), Math.min(interval * 1000, 2 ** 31 - 1));
          exitWaiters.push(() => {
            clearTimeout(t);
            resolve(true);
          });
        });
        const last = interrupted || i === count - 1;
        const now = process.hrtime.bigint();
        tick(last, Math.max(1, Math.round(Number(now - since) / 1e6)) / 1000);
        since = now;
        out.flush();
        if (last) break;
      }
    },
    monotonicNs: () => process.hrtime.bigint(),
    get exiting() {
      return exitRequested;
    },
  };
  try {
    await spec.run(ctx);
  } catch (e) {
    out.flush();
    await BPF.closeForExit(objects);
    fail(spec, e, opts.debug);
  }
  out.flush();
  reportMissedEvents(spec.name, missed());
  await BPF.closeForExit(objects);
  exitProcess(0);
}

/** The one line at exit when the kernel skipped programs (BPF.missedEvents), as lost ring-buffer records are reported. */
function reportMissedEvents(tool: string, n: number): void {
  if (n > 0) process.stderr.write(`${tool}: ${n} events missed: BPF programs were already running on that CPU\n`);
}

/**
 * Summary records (histogram, counts, top, stacks) carry `missed_events` (docs/json.md) when the
 * kernel skipped programs so far: a count read with them is that much short.
 */
function withMissedEvents(emit: RecordEmitter, missed: () => number): RecordEmitter {
  const extra = (e: Record<string, unknown> = {}) => {
    const n = missed();
    return n > 0 ? { ...e, missed_events: n } : e;
  };
  return {
    event: emit.event,
    histogram: (body, e) => emit.histogram(body, extra(e)),
    counts: (intervalS, rows, e) => emit.counts(intervalS, rows, extra(e)),
    top: (intervalS, sortBy, rows, e) => emit.top(intervalS, sortBy, rows, extra(e)),
    stacks: (intervalS, valueField, stacks, e) => emit.stacks(intervalS, valueField, stacks, extra(e)),
  };
}
