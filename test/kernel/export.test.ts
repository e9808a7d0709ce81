import { jest } from '@jest/globals';
// bpfkit export with the real engine: Debian's prometheus scrapes the exporter every second while a CPU
// hog and a known number of direct writes to a loop device run; its HTTP API answers a runqlat p99 and
// the loop disk's biolatency count (each write is one request, less any the block layer merged: as
// /proc/diskstats counts them). promtool checks /metrics. A tool killed under the exporter is reported
// down and restarted; SIGTERM stops everything and leaves no program loaded. Bad configs: one line
// naming the place, exit 2, nothing started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { allProgramsLinked, bpfFdsOf, root, sleep, tmpDir, track, unloaded, waitUntil, type Running } from './helpers.js';
import { diskWorkspace, diskWrites, directIo, loopDevice, type DiskWorkspace, type LoopDevice } from './disk-workload.js';

jest.setTimeout(180_000);

const bpfkit = path.join(root, 'bin', 'bpfkit');
let dir: string;
let ws: DiskWorkspace;
let loop: LoopDevice;

beforeAll(() => {
  dir = tmpDir('bpfkit-export-');
  ws = diskWorkspace('export');
  loop = loopDevice(ws.dir, 32);
});
afterAll(() => {
  loop?.detach();
  ws?.remove();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const startExport = (args: string[]): Running => track(spawn(bpfkit, ['export', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), 'bpfkit export');

async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  return r.text();
}

/** The value of one sample line of an exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A process's BPF programs and links, or none once it is gone (a child may exit between pgrep and this). */
function fdsOf(pid: number): { programs: number[] } {
  try {
    return bpfFdsOf(pid);
  } catch {
    return { programs: [] };
  }
}

/** The exporter's tool processes (its children), by the tool file they run. */
function childRunning(exporterPid: number, tool: string): number | undefined {
  const r = spawnSync('pgrep', ['-P', String(exporterPid), '-f', `${tool}.ts`], { encoding: 'utf8' });
  return r.stdout.trim() ? Number(r.stdout.trim().split('\n')[0]) : undefined;
}

describe('bpfkit export', () => {
  test('prometheus scrapes it: runqlat p99 under a CPU hog; the loop disk\'s biolatency count is its writes; promtool passes; a killed tool restarts; SIGTERM leaves nothing', async () => {
    const [exportPort, promPort] = [await freePort(), await freePort()];
    const config = writeConfig('e2e.yaml', `
tools:
  - tool: runqlat
    interval: 1
    metrics:
      - name: bpfkit_runqlat_usecs
        type: histogram
  - tool: biolatency
    args: [-D]
    interval: 1
    metrics:
      - name: bpfkit_biolatency_usecs
        type: histogram
        labels: [disk]
  - tool: execsnoop
    metrics:
      - name: bpfkit_execs_total
        type: counter
        labels: [comm]
`);
    const exporter = startExport(['--config', config, '--listen', `127.0.0.1:${exportPort}`]);
    let prometheus: ChildProcess | undefined;
    const hogs = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    try {
      await waitUntil(() => /serving http:/.test(exporter.stderr()) || exporter.child.exitCode !== null, 'the exporter to listen');
      expect(exporter.stderr()).toContain(`serving http://127.0.0.1:${exportPort}/metrics for runqlat, biolatency -D, execsnoop`);
      // the tools attached (each program has a link) before the workload
      await waitUntil(() => ['runqlat', 'biolatency', 'execsnoop'].every(t => {
        const pid = childRunning(exporter.child.pid!, t);
        if (!pid) return false;
        try {
          return allProgramsLinked(pid);
        } catch {
          return false; // it exited between pgrep and this
        }
      }), 'the tools to attach', 60_000);

      const promDir = path.join(dir, 'prometheus');
      fs.mkdirSync(promDir);
      fs.writeFileSync(path.join(promDir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: bpfkit\n    static_configs:\n      - targets: ['127.0.0.1:${exportPort}']\n`);
      prometheus = spawn('prometheus', [`--config.file=${path.join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' });
      const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
        try {
          const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
          const body = await r.json() as any;
          return body.status === 'success' ? body.data.result : [];
        } catch {
          return []; // not listening yet
        }
      };

      // events counted as they come: 20 execs of a binary of a name nothing else runs
      const marker = path.join(dir, 'bpfkitmark');
      fs.copyFileSync('/bin/true', marker);
      for (let i = 0; i < 20; i++) spawnSync(marker);
      const writes = 200;
      const before = diskWrites(loop.name);
      directIo(loop.path, { bs: 4096, count: writes });
      const after = diskWrites(loop.name);
      const requests = after.writes - before.writes;
      expect(requests + after.merged - before.merged).toBe(writes);

      // the loop disk's count reaches its requests once a tool interval and a scrape have passed
      let counted = 0;
      const countQuery = `bpfkit_biolatency_usecs_count{disk="${loop.name}"}`;
      for (const end = Date.now() + 60_000; Date.now() < end; await sleep(500)) {
        counted = Number((await query(countQuery))[0]?.value[1] ?? 0);
        if (counted >= requests) break;
      }
      expect(Math.abs(counted - requests) / requests).toBeLessThanOrEqual(0.05);

      let p99 = NaN;
      for (const end = Date.now() + 60_000; Date.now() < end && !Number.isFinite(p99); await sleep(500)) {
        p99 = Number((await query('histogram_quantile(0.99, rate(bpfkit_runqlat_usecs_bucket[30s]))'))[0]?.value[1]);
      }
      // two hogs on two CPUs with everything else: some run queue latency, a finite p99 in microseconds
      expect(Number.isFinite(p99)).toBe(true);
      expect(p99).toBeGreaterThan(0);

      console.log(`bpfkit export: prometheus has ${counted} ${loop.name} I/Os for ${requests} write requests (${writes} writes); runqlat p99 ${p99.toFixed(0)} us`);
      let execs = 0;
      for (const end = Date.now() + 30_000; Date.now() < end && execs < 20; await sleep(200)) execs = sample(await scrape(exportPort), 'bpfkit_execs_total{comm="bpfkitmark"}') ?? 0;
      expect(execs).toBe(20);
      const text = await scrape(exportPort);
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect({ status: check.status, out: check.stdout + check.stderr }).toEqual({ status: 0, out: '' });
      expect(sample(text, 'bpfkit_tool_up{tool="runqlat",args=""}')).toBe(1);
      // cumulative buckets: +Inf equals _count, and never below an earlier bucket
      const buckets = [...text.matchAll(/^bpfkit_runqlat_usecs_bucket\{le="([^"]+)"\} (\d+)$/gm)].map(m => Number(m[2]));
      expect(buckets.at(-1)).toBe(sample(text, 'bpfkit_runqlat_usecs_count'));
      expect(buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!)).toBe(true);

      // a tool that dies is reported down, then restarted
      const runqlat = childRunning(exporter.child.pid!, 'runqlat')!;
      process.kill(runqlat, 'SIGKILL');
      let afterKill = '';
      for (const end = Date.now() + 30_000; Date.now() < end; await sleep(100)) {
        afterKill = await scrape(exportPort);
        if (sample(afterKill, 'bpfkit_tool_up{tool="runqlat",args=""}') === 0) break;
      }
      expect(sample(afterKill, 'bpfkit_tool_up{tool="runqlat",args=""}')).toBe(0);
      expect(exporter.stderr()).toMatch(/runqlat: exited \(SIGKILL\); restarting in 1 s/);
      let restarted = '';
      for (const end = Date.now() + 30_000; Date.now() < end; await sleep(200)) {
        restarted = await scrape(exportPort);
        if (sample(restarted, 'bpfkit_tool_restarts_total{tool="runqlat",args=""}') === 1 && sample(restarted, 'bpfkit_tool_up{tool="runqlat",args=""}') === 1) break;
      }
      expect(sample(restarted, 'bpfkit_tool_restarts_total{tool="runqlat",args=""}')).toBe(1);
      expect(sample(restarted, 'bpfkit_tool_up{tool="runqlat",args=""}')).toBe(1);
      // monotonic across the restart: the count kept what the first runqlat counted
      await waitUntil(() => childRunning(exporter.child.pid!, 'runqlat') !== undefined, 'the new runqlat');
      expect(sample(restarted, 'bpfkit_runqlat_usecs_count')!).toBeGreaterThanOrEqual(sample(text, 'bpfkit_runqlat_usecs_count')!);

      // SIGTERM: every tool detaches, the exporter exits 0, no program of theirs stays loaded
      const programs = ['runqlat', 'biolatency', 'execsnoop'].flatMap(t => {
        const pid = childRunning(exporter.child.pid!, t);
        return pid ? fdsOf(pid).programs : [];
      });
      expect(programs.length).toBeGreaterThan(0);
      expect(await exporter.stop('SIGTERM')).toBe(0);
      await unloaded(programs);
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
      prometheus?.kill('SIGKILL');
      exporter.child.kill('SIGKILL');
    }
  });

  test('bad configs and flags: one line naming the place in the file, exit 2, nothing started', async () => {
    const cases: [string, string, RegExp][] = [
      ['unknown-tool.yaml', 'tools:\n  - tool: nosuchtool\n    metrics:\n      - {name: x_total, type: counter}\n', /unknown-tool\.yaml:2: unknown tool 'nosuchtool' \(see: bpfkit list\)$/],
      ['bad-args.yaml', 'tools:\n  - tool: runqlat\n    args: [-p, "999999999"]\n    metrics:\n      - {name: a, type: histogram}\n', /bad-args\.yaml:3: runqlat -p 999999999: .*999999999/],
      ['duplicate.yaml', 'tools:\n  - tool: runqlat\n    metrics:\n      - {name: a, type: histogram}\n  - tool: biolatency\n    metrics:\n      - {name: a, type: histogram}\n', /duplicate\.yaml:7: metric name 'a' is already used \(at .*duplicate\.yaml:4\)$/],
      ['suffix.yaml', 'tools:\n  - tool: runqlat\n    metrics:\n      - {name: a, type: histogram}\n  - tool: vfsstat\n    metrics:\n      - {name: a_count, type: gauge, value: read}\n', /suffix\.yaml:7: metric name 'a_count' is already used/],
      ['kind.yaml', 'tools:\n  - tool: vfsstat\n    metrics:\n      - name: v\n        type: histogram\n', /kind\.yaml:5: vfsstat prints no histograms \(its --json output: counts\)$/],
      ['key.yaml', 'tools:\n  - tool: runqlat\n    metric: []\n', /key\.yaml:3: unknown key 'metric' in a tool \(known: tool, args, interval, metrics\)$/],
      ['yaml.yaml', 'tools:\n  - tool: [runqlat\n', /yaml\.yaml:\d+: /],
      ['stacks.yaml', 'tools:\n  - tool: profile\n    metrics:\n      - {name: p_total, type: counter, value: samples}\n', /stacks\.yaml:2: profile does not report at intervals \(it has no interval argument\)$/],
      ['counter.yaml', 'tools:\n  - tool: vfsstat\n    metrics:\n      - {name: reads, type: counter, value: read}\n', /counter\.yaml:4: a counter's name ends in _total/],
      // labels and values against what the tool declares its records hold with these arguments (ToolSpec.records)
      ['label.yaml', 'tools:\n  - tool: runqlen\n    args: [-O]\n    metrics:\n      - name: occ\n        type: gauge\n        labels: [cpu]\n        value: runqocc_percent\n', /label\.yaml:7: label 'cpu' is not produced by runqlen: its records have runqocc_percent$/],
      ['sections.yaml', 'tools:\n  - tool: biolatency\n    metrics:\n      - {name: b, type: histogram, labels: [disk]}\n', /sections\.yaml:4: label 'disk' is not produced by biolatency: its histograms have no sections \(options such as -D make them\)$/],
      ['unnamed.yaml', 'tools:\n  - tool: biolatency\n    args: [-D]\n    metrics:\n      - {name: b, type: histogram}\n', /unnamed\.yaml:5: biolatency's histograms are sectioned by 'disk': name it in labels: \[disk\]$/],
      ['value.yaml', 'tools:\n  - tool: syscount\n    metrics:\n      - {name: s_total, type: counter, labels: [syscall], value: calls}\n', /value\.yaml:4: value 'calls' is not a field of syscount's records \(they have syscall, count\)$/],
      ['probes.yaml', 'tools:\n  - tool: argdist\n    args: [-H, "t:syscalls:sys_enter_read():u64:args->count"]\n    metrics:\n      - {name: reads, type: histogram}\n', /probes\.yaml:5: argdist's histograms are sectioned by 'probe': name it in labels: \[probe\]$/],
      ['function.yaml', 'tools:\n  - tool: funclatency\n    args: [-F, "c:read"]\n    metrics:\n      - {name: lat, type: histogram, labels: [Function]}\n', /function\.yaml:5: label 'Function' is not produced by funclatency: its histograms are sectioned by 'function'$/],
      ['event.yaml', 'tools:\n  - tool: execsnoop\n    metrics:\n      - {name: execs_total, type: counter, labels: [filename]}\n', /event\.yaml:4: label 'filename' is not produced by execsnoop: its records have pid, ppid, uid, user, comm, ret, args, truncated$/],
    ];
    for (const [name, text, re] of cases) {
      const r = spawnSync(bpfkit, ['export', '--config', writeConfig(name, text)], { encoding: 'utf8', timeout: 60_000 });
      expect({ name, status: r.status, lines: r.stderr.trim().split('\n').length, stdout: r.stdout }).toEqual({ name, status: 2, lines: 1, stdout: '' });
      expect(r.stderr.trim()).toMatch(new RegExp(`^bpfkit export: .*${re.source}`));
    }
    for (const args of [['--listen', 'nowhere'], ['--bogus'], ['--config', path.join(dir, 'missing.yaml')]]) {
      const r = spawnSync(bpfkit, ['export', ...args], { encoding: 'utf8', timeout: 60_000 });
      expect({ args, status: r.status, lines: r.stderr.trim().split('\n').length }).toEqual({ args, status: 2, lines: 1 });
    }
  });

  test('the default config is valid; the Grafana dashboard queries only metrics it (or the exporter itself) makes', async () => {
    const { loadConfig, defaultConfigFile } = await import('../../lib/export/index.js');
    const { healthMetricNames } = await import('../../lib/export/config.js');
    const config = await loadConfig(defaultConfigFile);
    expect(config.tools.map(t => t.tool)).toEqual(expect.arrayContaining(['runqlat', 'biolatency', 'syscount']));
    const made = new Set([...healthMetricNames, ...config.tools.flatMap(t => t.metrics.flatMap(m => (m.type === 'histogram' ? ['_bucket', '_sum', '_count'].map(x => m.name + x) : [m.name])))]);
    const dashboard = fs.readFileSync(path.join(root, 'docs', 'grafana', 'bpfkit-dashboard.json'), 'utf8');
    const queried = new Set([...dashboard.matchAll(/\b(bpfkit_[a-z_]+)/g)].map(m => m[1]!).filter(n => n !== 'bpfkit_export'));
    expect([...queried].filter(n => !made.has(n))).toEqual([]);
    expect(queried.size).toBeGreaterThan(8);
  });

  // needs a tool that declares no ToolSpec.records (cpudist): for the others the config is refused before the start
  test('a tool that does not declare its records: a label it does not produce is found at its first record: the place named, exit 2, the tool stopped', async () => {
    const file = writeConfig('first-record.yaml', 'tools:\n  - tool: cpudist\n    interval: 1\n    metrics:\n      - name: oncpu\n        type: histogram\n        labels: [pid]\n');
    const exporter = startExport(['--config', file, '--listen', `127.0.0.1:${await freePort()}`]);
    let programs: number[] = [];
    await waitUntil(() => {
      const pid = childRunning(exporter.child.pid!, 'cpudist');
      if (pid) programs = [...new Set([...programs, ...fdsOf(pid).programs])];
      return exporter.child.exitCode !== null;
    }, 'the exporter to stop', 60_000);
    expect(exporter.child.exitCode).toBe(2);
    expect(exporter.stderr()).toMatch(/first-record\.yaml:5: label 'pid' is not produced by cpudist: its histograms have no sections/);
    await unloaded(programs);
  });
});
