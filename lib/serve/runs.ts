// The dashboard's tool runs: a catalogue tool started as a child process with --json (an argument
// array, no shell), its records fanned out to every panel watching it. Panels asking for the same tool
// with the same arguments share one run, so ten viewers cost one tool; a run ends when its last
// viewer leaves. Records are sent in batches (one message per run every batchMs), each with the run's
// own totals, so every viewer sees the same counts, and a viewer that cannot keep up is told how many
// records it missed rather than silently losing them.
import type { ChildProcess } from 'node:child_process';
import { loadSpec } from '../cli/catalogue.js';
import { spawnTool, type ToolChild } from '../cli/command.js';
import { checkArguments } from '../cli/index.js';
import { outputKinds } from '../cli/catalogue.js';
import { renderFlameGraph } from '../output/flamegraph.js';
import { foldedFrames, stackFromJson } from '../stacks/index.js';


/** What a viewer receives: serialized SSE messages, and whether its connection is backed up. */
export interface Viewer {
  id: string;
  send(event: string, data: unknown): boolean;
  /** Records not sent because its connection was full (it gets the count instead). */
  missed: number;
}

export class RunError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface RunInfo { run: string; tool: string; args: string[]; kinds: string[] }

/** Options that make a tool write a file where it runs: not for a browser to choose. */
export const fileWritingOptions = ['--flamegraph'];

/** Records kept per run for a viewer that joins later: the recent ones, as the panel would show them. */
const replayRecords = 120;

class ToolRun {
  readonly id: string;
  readonly viewers = new Set<Viewer>();
  readonly child: ChildProcess;
  records = 0;
  private readonly tc: ToolChild;
  get lost(): number {
    return this.tc.lost;
  }
  private recent: unknown[] = [];
  private batch: unknown[] = [];
  private timer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  exited?: { code: number | null; message: string };
  /** The latest stacks record's flame graph (SVG). */
  flamegraph?: string;

  constructor(readonly key: string, readonly tool: string, readonly args: string[], file: string, readonly kinds: string[],
    private readonly batchMs: number, private readonly ended: (run: ToolRun) => void) {
    this.id = `r${Math.random().toString(36).slice(2, 10)}`;
    this.tc = spawnTool(file, ['--json', ...args], line => this.add(line));
    this.child = this.tc.child;
    this.child.on('exit', code => {
      this.flush();
      const lines = this.tc.stderrTail().trim().split('\n').filter(l => !/Hit Ctrl-C|^Tracing/.test(l));
      this.exited = { code, message: lines.at(-1) ?? '' };
      for (const v of this.viewers) v.send('exit', { run: this.id, ...this.exited });
      this.ended(this);
    });
  }

  private add(line: string): void {
    let record: any;
    try {
      record = JSON.parse(line);
    } catch {
      return;
    }
    this.records++;
    if (record.kind === 'stacks') {
      // the SVG is served by the server (its own script, its own CSP); the record says where
      this.flamegraph = flameGraphOf(record, this.tool);
      const { stacks, ...rest } = record;
      record = { ...rest, stack_count: stacks?.length ?? 0, flamegraph: `/flamegraph/${this.id}/${this.records}.svg` };
    }
    this.recent.push(record);
    if (this.recent.length > replayRecords) this.recent.splice(0, this.recent.length - replayRecords);
    this.batch.push(record);
    this.timer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const records = this.batch;
    this.batch = [];
    const seconds = (Date.now() - this.startedAt) / 1000;
    for (const v of this.viewers) {
      const stats = { run: this.id, total: this.records, lost: this.lost, rate: this.records / Math.max(seconds, 0.001), missed: v.missed };
      // a connection still busy with what it was sent: this batch is counted, not queued without bound
      if (!v.send('records', { ...stats, records })) v.missed += records.length;
    }
  }

  join(v: Viewer): void {
    this.viewers.add(v);
    // the recent records already sent to others (those pending go out with the next batch), and how
    // many came before them (a viewer joining late never sees those)
    const sent = this.recent.slice(0, Math.max(0, this.recent.length - this.batch.length));
    const total = this.records - this.batch.length;
    if (sent.length) v.send('records', { run: this.id, total, lost: this.lost, rate: 0, missed: v.missed, records: sent, replay: true, before: total - sent.length });
    if (this.exited) v.send('exit', { run: this.id, ...this.exited });
  }

  /** Ctrl-C for the tool (it prints its summary, which reaches the viewers, and detaches); killed if it hangs. */
  stop(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    this.child.once('exit', () => clearTimeout(kill));
  }
}

/** A stacks record's flame graph: the SVG bpfkit flamegraph writes. */
function flameGraphOf(record: any, tool: string): string {
  const field = record.value_field ?? 'samples';
  const stacks = (record.stacks ?? []).map((s: any): [string[], number] => {
    const st = stackFromJson(s, field);
    return [foldedFrames(st, { annotations: true }), st.value];
  });
  const offCpu = field.endsWith('_us');
  return renderFlameGraph(stacks, { title: tool, countName: offCpu ? 'us' : field, palette: offCpu ? 'off-cpu' : 'cpu' });
}

export class Runs {
  private readonly runs = new Map<string, ToolRun>();
  /** Flame graphs of runs that ended (a profile with a duration ends as it prints), the latest 32. */
  private readonly ended = new Map<string, string>();

  constructor(private readonly maxRuns: number, private readonly batchMs = 100) {}

  get size(): number {
    return this.runs.size;
  }

  /** Starts (or joins) `tool args` for a viewer, after the tool's own parser accepted the arguments. */
  async start(viewer: Viewer, tool: unknown, args: unknown): Promise<RunInfo> {
    if (typeof tool !== 'string' || !/^[a-z0-9_]+$/.test(tool)) throw new RunError('tool: a catalogue tool\'s name', 400);
    if (!Array.isArray(args) || !args.every(a => typeof a === 'string')) throw new RunError('args: an array of strings', 400);
    if (args.includes('--json') || args.includes('--debug')) throw new RunError('--json and --debug are the dashboard\'s to set', 400);
    const writes = args.find(a => fileWritingOptions.includes(a.replace(/=.*/, '')));
    if (writes) throw new RunError(`${writes} writes a file on the server: run the tool there instead`, 400);
    const spec = await loadSpec(tool);
    if (!spec) throw new RunError(`no tool named '${tool}' in the catalogue`, 404);
    const bad = await checkArguments(spec, [...args, '--json']);
    if (bad) throw new RunError(`${tool}: ${bad}`, 400);
    const key = JSON.stringify([tool, args]);
    let run = [...this.runs.values()].find(r => r.key === key && !r.exited);
    if (!run) {
      if (this.runs.size >= this.maxRuns) throw new RunError(`at most ${this.maxRuns} tool${this.maxRuns === 1 ? '' : 's'} run at once: stop one first`, 429);
      run = new ToolRun(key, tool, args, spec.file, outputKinds(spec), this.batchMs, r => {
        this.runs.delete(r.id);
        if (r.flamegraph) this.ended.set(r.id, r.flamegraph);
        if (this.ended.size > 32) this.ended.delete(this.ended.keys().next().value!);
      });
      this.runs.set(run.id, run);
    }
    run.join(viewer);
    return { run: run.id, tool, args, kinds: run.kinds };
  }

  /** A viewer leaves a run; the run's tool is stopped when nobody watches it any more. */
  leave(viewer: Viewer, runId: string): void {
    const run = this.runs.get(runId);
    if (!run || !run.viewers.delete(viewer)) return;
    if (run.viewers.size === 0) run.stop();
  }

  /**
   * Stop: a viewer that watches alone ends the tool (Ctrl-C) and stays to receive its summary and exit;
   * one of several only leaves, the others watching on.
   */
  stop(viewer: Viewer, runId: string): void {
    const run = this.runs.get(runId);
    if (!run || !run.viewers.has(viewer)) return;
    if (run.viewers.size > 1) {
      run.viewers.delete(viewer);
      viewer.send('exit', { run: run.id, code: null, message: 'stopped watching (others still watch it)' });
    } else {
      run.stop();
    }
  }

  leaveAll(viewer: Viewer): void {
    for (const id of [...this.runs.keys()]) this.leave(viewer, id);
  }

  /** Stops every tool and resolves once all have exited. */
  async stopAll(): Promise<void> {
    const all = [...this.runs.values()];
    await Promise.all(all.map(r => new Promise<void>(resolve => {
      if (r.exited) return resolve();
      r.child.once('exit', () => resolve());
      r.stop();
    })));
  }

  /** A run's latest flame graph, if it has one. */
  flamegraph(runId: string): string | undefined {
    return this.runs.get(runId)?.flamegraph ?? this.ended.get(runId);
  }

  /** The tools' child PIDs (the tests check what they hold). */
  pids(): number[] {
    return [...this.runs.values()].map(r => r.child.pid!).filter(Boolean);
  }
}
