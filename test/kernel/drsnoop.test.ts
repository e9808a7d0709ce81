// drsnoop on the real kernel. Memory pressure is made inside a 32 MiB memory cgroup: a dd of its own
// name reads a 96 MiB file (not cached) through the page cache there, so the dd must reclaim its
// cgroup's pages itself (the host is not short of memory: clean page cache, reclaimed at once). The kernel reports that
// reclaim with the memcg_reclaim events, which --memcg adds: every one is shown under the dd's PID,
// as many as bpftrace counts on the same events. Without --memcg drsnoop traces the global direct
// reclaim (as BCC and libbpf-tools do), which this workload does not cause: it shows none, as
// libbpf-tools' drsnoop beside it. -T -U -t -n -v, --json, -d; bad input.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool, sleep, startReference, startTool, track, type Running } from './helpers.js';
import { cleanFile, dropFromCache, memoryCgroup, type MemoryCgroup } from './memcg.js';

// Each test may repeat its run (see tracedIo) and the machine is shared: generous, not tight.
jest.setTimeout(240_000);

const LIMIT = 32 << 20;
let cg: MemoryCgroup;
let dir: string;
let dd: string;
let file: string;

beforeAll(() => {
  cg = memoryCgroup('bpfkit-drsnoop', LIMIT);
  dir = fs.mkdtempSync('/var/tmp/bpfkit-drsnoop-');
  dd = path.join(dir, 'ddreclaim');
  fs.copyFileSync('/usr/bin/dd', dd);
  fs.chmodSync(dd, 0o755);
  file = path.join(dir, 'data');
  cleanFile(file, 96);
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  cg?.remove();
});

/** Starts the gated dd (reading 96 MiB through the page cache of the 32 MiB cgroup), returns it. */
function pressure() {
  dropFromCache(file); // else the last run's pages, still cached, are read without a charge
  return cg.gated([dd, `if=${file}`, 'of=/dev/null', 'bs=1M']);
}

interface Line { comm: string; id: number; lat: number; pages: number; rest: string[] }
function lines(out: string, from = 1): Line[] {
  return out.split('\n').slice(from).filter(Boolean).map(l => {
    const f = l.trim().split(/\s+/);
    return { comm: f[0], id: +f[1], lat: +f[2], pages: +f[3], rest: f.slice(4) };
  });
}

/** Starts the tracers with the workload's PID, releases the workload once all are attached, waits for it, stops them. */
async function traced(start: (pid: number) => Running[], attachedWhen: (r: Running) => Promise<unknown> = r => r.waitFor(/PAGES|Attaching/, 120_000)) {
  const w = pressure();
  const tracers = start(w.pid);
  try {
    await Promise.all(tracers.map(attachedWhen));
    w.release();
    // (a hang says what each tracer had printed, rather than only "exceeded timeout")
    const code = await Promise.race([w.exited, sleep(90_000).then(() => 'still running after 90 s')]);
    if (code !== 0) throw new Error(`the workload: ${code}\n${tracers.map(t => `--- ${t.child.spawnfile}:\n${t.stdout()}${t.stderr()}`).join('\n')}`);
    await sleep(300);
  } finally {
    await Promise.all(tracers.map(t => t.stop('SIGINT')));
  }
  for (const t of tracers) await t.exited;
  return { pid: w.pid, tracers };
}

/** bpftrace counting the same kernel events for one PID: the second source. */
function bpftraceCount(pid: number): Running {
  const prog = `tracepoint:vmscan:mm_vmscan_memcg_reclaim_end /pid == ${pid}/ { @n = count(); }`;
  return track(spawn('bpftrace', ['-e', prog], { stdio: ['ignore', 'pipe', 'pipe'] }), 'bpftrace');
}

describe('drsnoop', () => {
  test('--memcg -p: the dd\'s reclaims at its cgroup\'s limit, each under its PID; as many as bpftrace counts', async () => {
    // Both attach to the same tracepoint; on this VM the kernel now and then skips a program for a
    // burst of events (see disk-workload.ts), so an attempt where the two counts differ is repeated.
    let run: { pid: number; out: string; counted: number; hits: number } | undefined;
    for (let attempt = 0; attempt < 3 && (!run || lines(run.out).length !== run.counted); attempt++) {
      const hitsBefore = cg.limitHits();
      const { pid, tracers: [ours, bt] } = await traced(p => [startTool('drsnoop', ['--memcg', '-p', String(p)]), bpftraceCount(p)],
        r => (r.child.spawnfile === 'bpftrace' ? r.waitFor(/Attaching/, 120_000) : r.waitFor(/PAGES/, 120_000)));
      run = { pid, out: ours.stdout(), counted: Number(/@n: (\d+)/.exec(bt.stdout())?.[1] ?? 0), hits: cg.limitHits() - hitsBefore };
    }
    const { pid, out, counted, hits } = run!;
    expect(out.split('\n')[0]).toBe('COMM           PID     LAT(ms) PAGES TYPE');
    const seen = lines(out);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter(l => l.comm !== 'ddreclaim' || l.id !== pid || l.rest[0] !== 'memcg')).toEqual([]);
    expect(seen.filter(l => l.pages > 0).length).toBeGreaterThan(0);
    expect(seen.every(l => l.lat >= 0)).toBe(true);
    expect(seen.length).toBe(counted);
    // every reclaim follows a failed charge against the limit (a charge may fail more than once)
    expect(hits).toBeGreaterThanOrEqual(seen.length);
  });

  test('conformance: without --memcg (BCC\'s events), none of it is direct reclaim: no line, as libbpf-tools drsnoop', async () => {
    const { tracers: [ours, ref, check] } = await traced(p => [
      startTool('drsnoop', ['-p', String(p)]), startReference('drsnoop', ['-p', String(p)]), startTool('drsnoop', ['--memcg', '-p', String(p)]),
    ], r => r.waitFor(/PAGES/, 120_000));
    expect(ours.stdout()).toBe('COMM           PID     LAT(ms) PAGES\n');
    expect(ref.stdout().split('\n').slice(2).filter(Boolean)).toEqual([]); // after its banner and header
    expect(lines(check.stdout()).length).toBeGreaterThan(0); // while the same workload did reclaim
  });

  test('-T -U -t TID -v: columns as BCC\'s; FREE(KB) from /proc/meminfo here (said once on stderr)', async () => {
    const { pid, tracers: [t] } = await traced(p => [startTool('drsnoop', ['--memcg', '-T', '-U', '-t', String(p), '-v'])], r => r.waitFor(/PAGES/, 120_000));
    expect(t.stdout().split('\n')[0]).toBe('TIME(s)       UID   COMM           TID     LAT(ms) PAGES  FREE(KB) TYPE');
    expect(t.stderr()).toMatch(/^drsnoop: FREE\(KB\) is MemFree of \/proc\/meminfo when each event is printed: .*\n$/);
    const rows = t.stdout().split('\n').slice(1).filter(Boolean).map(l => l.trim().split(/\s+/));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0][0]).toBe('0.000000000');
    const memFree = Number(/^MemFree:\s+(\d+)/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))![1]);
    for (const r of rows) {
      expect(r.slice(1, 4)).toEqual(['0', 'ddreclaim', String(pid)]);
      expect(Math.abs(+r[6] - memFree) / memFree).toBeLessThan(0.2);
    }
  });

  test('-n NAME: only names containing it', async () => {
    const { tracers: [none, some] } = await traced(p => [
      startTool('drsnoop', ['--memcg', '-p', String(p), '-n', 'nomatch']), startTool('drsnoop', ['--memcg', '-p', String(p), '-n', 'reclai']),
    ], r => r.waitFor(/PAGES/, 120_000));
    expect(lines(none.stdout())).toEqual([]);
    expect(lines(some.stdout()).length).toBeGreaterThan(0);
  });

  test('--json: one event record per reclaim (docs/json.md)', async () => {
    const { pid, tracers: [t] } = await traced(p => [startTool('drsnoop', ['--json', '--memcg', '-p', String(p)])],
      r => (async () => { for (let i = 0; i < 2400 && !r.stderr().includes('Hit Ctrl-C'); i++) await sleep(50); })());
    const records = t.stdout().trim().split('\n').map(l => JSON.parse(l));
    expect(records.length).toBeGreaterThan(0);
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records[0]).toMatchObject({ tool: 'drsnoop', kind: 'event', comm: 'ddreclaim', pid, tid: pid, uid: 0, reclaim: 'memcg' });
    expect(Object.keys(records[0])).toEqual(['time', 'tool', 'kind', 'ts_ns', 'comm', 'pid', 'tid', 'uid', 'latency_ms', 'pages', 'reclaim']);
  });

  test('-d 1: traces one second, then exits 0 by itself', () => {
    const r = runTool('drsnoop', ['-d', '1'], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('COMM           PID     LAT(ms) PAGES');
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('drsnoop', [['-p', '999999999'], ['-t', 'abc'], ['-u', 'no-such-user-x'], ['-d', '0'], ['-d', 'x'], ['--nosuch'], ['extra']]);
  });
});
