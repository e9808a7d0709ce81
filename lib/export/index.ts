// bpfkit export: catalogue tools run as child processes with --json at an interval; their records are
// accumulated into Prometheus series and served at /metrics. A tool that dies is reported down and
// restarted with backoff; SIGTERM/SIGINT stops every tool (each detaches as on Ctrl-C) and then exits.
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { commandDie, commandFlags, listeningAt, parseListen, spawnTool, type ToolChild } from '../cli/command.js';
import { projectRoot } from '../compile/index.js';
import { programStatsTotal } from '../host/bpfstats.js';
import { ConfigError, loadConfig, type ExportConfig, type ToolConfig } from './config.js';
import { seriesDroppedMetric, toolHealthMetrics, type ToolHealth } from './health.js';
import { addRecord, labelText, Metric, RecordMismatch } from './metrics.js';
import { exitProcess } from '../cli/exit.js';

export { ConfigError, loadConfig } from './config.js';
export { addRecord, Metric, RecordMismatch } from './metrics.js';
export type { MetricConfig, ToolConfig, ExportConfig } from './config.js';

export const defaultConfigFile = path.join(projectRoot, 'config', 'bpfkit-export.yaml');
export const defaultListen = '127.0.0.1:9435';

/** The first restart waits this long, each next one twice as long, up to maxBackoffMs. */
const firstBackoffMs = 1000;
const maxBackoffMs = 60_000;

/** One configured tool, kept running. */
class Supervised {
  child?: ChildProcess;
  private tc?: ToolChild;
  up = false;
  restarts = 0;
  /** Events lost by the children before this one. */
  private lostBefore = 0;
  get lost(): number {
    return this.lostBefore + (this.child ? this.tc?.lost ?? 0 : 0);
  }
  /** The last BPF statistics read from a child: kept across its restarts. */
  private stats = { runTimeNs: 0, runs: 0, missed: 0 };
  private statsBase = { runTimeNs: 0, runs: 0, missed: 0 };
  private backoffMs = firstBackoffMs;
  private timer?: NodeJS.Timeout;
  stopping = false;
  readonly metrics: Metric[];
  readonly labels: Record<string, string>;

  constructor(readonly config: ToolConfig, private readonly fatal: (msg: string) => void, private readonly log: (msg: string) => void) {
    this.metrics = config.metrics.map(m => new Metric(m, config.tool));
    this.labels = { tool: config.tool, args: config.args.join(' ') };
  }

  start(): void {
    const tc = spawnTool(this.config.file, this.config.argv, line => this.record(line));
    const child = tc.child;
    this.child = child;
    this.tc = tc;
    const startedAt = Date.now();
    child.on('spawn', () => (this.up = true));
    child.on('exit', (code, signal) => {
      this.up = false;
      this.child = undefined;
      this.statsBase = { ...this.stats };
      if (this.stopping) return;
      // a tool that ended by itself said why in its last line (killed, its last line is only its banner)
      const said = signal ? '' : tc.stderrTail().trim().split('\n').at(-1) ?? '';
      this.lostBefore += tc.lost;
      if (Date.now() - startedAt > maxBackoffMs) this.backoffMs = firstBackoffMs; // it had been running fine
      this.log(`${this.config.tool}: exited (${signal ?? `code ${code}`})${said ? `: ${said}` : ''}; restarting in ${this.backoffMs / 1000} s`);
      this.timer = setTimeout(() => {
        this.restarts++;
        this.start();
      }, this.backoffMs);
      this.backoffMs = Math.min(maxBackoffMs, this.backoffMs * 2);
    });
  }

  private record(line: string): void {
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      return; // not a record: the tools print only records on stdout with --json, so never expected
    }
    try {
      addRecord(this.metrics, record);
    } catch (e) {
      if (!(e instanceof RecordMismatch)) throw e;
      const m = this.metrics.find(x => e.message.includes(x.config.name)) ?? this.metrics[0]!;
      this.fatal(`${m.config.place}: ${e.message}`);
    }
  }

  /** The BPF statistics of the running child plus those of the children before it. */
  bpfStats() {
    if (this.child?.pid) {
      const now = programStatsTotal(this.child.pid);
      this.stats = { runTimeNs: this.statsBase.runTimeNs + now.runTimeNs, runs: this.statsBase.runs + now.runs, missed: this.statsBase.missed + now.missed };
    }
    return this.stats;
  }

  /** Stops the child as Ctrl-C does (it prints its last interval and detaches); resolves when it is gone. */
  stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise(resolve => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGINT');
    });
  }
}

/** All of /metrics: the configured metrics, then each tool's health. */
export function renderMetrics(tools: (ToolHealth & { metrics: Metric[] })[]): string {
  const out: string[] = [];
  for (const t of tools) for (const m of t.metrics) m.render(out);
  for (const { name, type, help, value } of toolHealthMetrics) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const t of tools) out.push(`${name}${labelText(t.labels)} ${value(t)}`);
  }
  const dropped = seriesDroppedMetric;
  out.push(`# HELP ${dropped.name} ${dropped.help}`, `# TYPE ${dropped.name} ${dropped.type}`);
  for (const t of tools) for (const m of t.metrics) out.push(`${dropped.name}${labelText({ metric: m.config.name })} ${m.dropped}`);
  return out.join('\n') + '\n';
}

const usage = `Usage: bpfkit export [--config FILE] [--listen ADDR:PORT]

Runs the tools a configuration names and serves their histograms and counters as Prometheus metrics
at http://ADDR:PORT/metrics.

  --config FILE       the configuration (default: ${path.relative(process.cwd(), defaultConfigFile) || defaultConfigFile})
  --listen ADDR:PORT  where to serve /metrics (default: the config's listen:, else ${defaultListen})
`;

/** `bpfkit export`: exits 2 (one line) on bad flags or a bad config, before anything starts. */
export async function exportCommand(argv: string[]): Promise<void> {
  const die = commandDie('export');
  const flags = commandFlags('export', argv, usage, { '--config': ['-c'], '--listen': ['-l'] });
  const configFile = flags['--config'] ?? defaultConfigFile;
  let config: ExportConfig;
  try {
    config = await loadConfig(configFile);
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }
  const listenText = flags['--listen'] ?? config!.listen ?? defaultListen;
  const listen = parseListen(listenText) ?? die(`--listen ${listenText}: expected ADDR:PORT, e.g. ${defaultListen}`, 2);

  let stopping = false;
  const log = (msg: string) => process.stderr.write(`bpfkit export: ${msg}\n`);
  const tools: Supervised[] = [];
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    server.close();
    await Promise.all(tools.map(t => t.stop()));
    exitProcess(code);
  };
  const fatal = (msg: string) => {
    log(msg);
    void stopAll(2);
  };
  for (const t of config!.tools) tools.push(new Supervised(t, fatal, log));

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url.pathname === '/metrics') {
      const body = renderMetrics(tools);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body><a href="/metrics">/metrics</a></body></html>\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>(resolve => {
    server.once('error', e => die(`cannot listen on ${listenText}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, 1));
    server.listen(listen.port, listen.host, resolve);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stopAll(0));
  for (const t of tools) t.start();
  const address = server.address();
  const where = listeningAt(address, listenText);
  log(`serving http://${where}/metrics for ${tools.map(t => [t.config.tool, ...t.config.args].join(' ')).join(', ')}`);
}
