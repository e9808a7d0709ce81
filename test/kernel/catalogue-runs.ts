// The catalogue-wide runs shared by smoke.test.ts and json.test.ts: every tool's declared basic
// invocations (ToolSpec.invocations), run as a user runs them, a few at a time, while a workload gives
// every kind of tool something to report. A new tool is covered by declaring its invocations.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadSpecs, outputKinds } from '../../lib/cli/catalogue.js';
import type { Invocation, ToolSpec } from '../../lib/cli/index.js';
import { inTurns, startTool, whereStuck, type Running } from './helpers.js';
import { cleanFile, dropFromCache, memoryCgroup } from './memcg.js';
import { startNetWorkload } from './netns.js';

export type Spec = ToolSpec<any> & { file: string };
/** BPFKIT_TOOLS=a,b runs the catalogue tests for those tools only (a helper checking its own). */
const only = process.env.BPFKIT_TOOLS?.split(',').filter(Boolean);
export const specs: Spec[] = (await loadSpecs()).filter(s => !only || only.includes(s.name));

export interface Run {
  tool: string;
  args: string[];
  ends: Invocation['ends'];
  code: number | null;
  /** Seconds from start to exit. */
  seconds: number;
  /** ctrl-c runs: whether it was still running 3 s after it had printed something (and 4 s after start). */
  stillRunning?: boolean;
  stdout: string;
  stderr: string;
}

/** Every (tool, invocation) pair, with `extra` arguments appended (e.g. --json). */
export function invocations(extra: string[] = []) {
  return specs.flatMap(spec => spec.invocations.map(inv => ({
    spec, args: [...inv.args, ...extra], ends: inv.ends, quiet: inv.quiet,
    // a file it needs is absent: it must refuse in one line, exit 1
    refuses: inv.needs !== undefined && !fs.existsSync(inv.needs),
  })));
}

/** What a run that refuses (its `needs` absent here) prints: exactly one line naming the tool and what this machine lacks, exit 1. */
export const refusal = (tool: string) => new RegExp(`^${tool}: this (machine|kernel) has no [^\n]+\n$`);

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));


async function runOne(tool: string, args: string[], ends: Invocation['ends'], printsAsItGoes: boolean): Promise<Run> {
  const started = Date.now();
  const t: Running = startTool(tool, args);
  let stillRunning: boolean | undefined;
  let stuck = '';
  const running = () => t.child.exitCode === null && t.child.signalCode === null;
  if (ends === 'ctrl-c') {
    // ready once it printed anything (a header, a banner on stderr, a record); then 3 s of the workload
    // for it to see (quick events every 300 ms, memory work every second or so), and at least 4 s from
    // start: a tool that ends by itself is gone by then
    const deadline = started + 60_000;
    while (!t.stdout() && !t.stderr() && running() && Date.now() < deadline) await sleep(100);
    await sleep(Math.max(3000, started + 4000 - Date.now()));
    // the workload gives every tool but a quiet one something to print: on a busy machine a slow round
    // (an OOM kill after reclaim) can come later than the 3 s, so a tool that prints its events as they
    // come (not a summary at Ctrl-C) is given until it printed one
    while (printsAsItGoes && !t.stdout() && running() && Date.now() < deadline) await sleep(100);
    stillRunning = running();
    await t.stop('SIGINT');
  } else {
    const timer = setTimeout(() => {
      stuck = `\n[killed after 60 s; its threads:]${whereStuck(t.child.pid!)}`;
      t.child.kill('SIGKILL');
    }, 60_000);
    await t.exited;
    clearTimeout(timer);
  }
  const code = await t.exited;
  return { tool, args, ends, code, seconds: (Date.now() - started) / 1000, stillRunning, stdout: t.stdout(), stderr: t.stderr() + stuck };
}

/** Runs them all, `parallel` at a time, while startWorkload()'s workload goes on. */
export async function runUnderWorkload(list: ReturnType<typeof invocations>): Promise<Run[]> {
  const workload = startWorkload();
  try {
    return await runAll(list);
  } finally {
    await workload.stop();
  }
}

/**
 * Runs them all, `parallel` at a time: start-up is CPU-bound (~0.3 s of a CPU), but a run spends most of
 * its ~4 s waiting (an interval, Ctrl-C): 3 runs per CPU keep both of this machine's CPUs about half busy.
 */
async function runAll(list: ReturnType<typeof invocations>, parallel = 3 * os.cpus().length): Promise<Run[]> {
  // a refusing run ends by itself whatever its kind
  return inTurns(list, parallel, inv => runOne(inv.spec.name, inv.args, inv.refuses ? 'itself' : inv.ends,
    inv.quiet === undefined && outputKinds(inv.spec).every(k => k === 'event')));
}

/**
 * Something for every tool to see, every 300 ms until stopped: execs and exits (sh, cat, dd), opens,
 * direct-I/O writes to the disk, kill(2) calls, a System V shared memory segment made and removed (shmsnoop), and a
 * loopback TCP session; and, in a loop of its own, memory reclaim: a dd reading 12 MiB (not cached) through the
 * page cache of an 8 MiB memory cgroup (drsnoop --memcg), then (every third round) a manual compaction of
 * every zone (compactsnoop); and in another, a dd whose 32 MiB buffer that cgroup's OOM killer ends (oomkill).
 */
function startWorkload(): { stop(): Promise<void> } {
  const dir = fs.mkdtempSync('/var/tmp/bpfkit-catalogue-'); // on the disk (/tmp may be tmpfs)
  const file = path.join(dir, 'direct.dat');
  const server = net.createServer(s => s.on('data', () => {}).on('end', () => s.end()));
  server.listen(0, '127.0.0.1');
  let cg: ReturnType<typeof memoryCgroup> | undefined;
  const cached = path.join(dir, 'pressure.dat');
  try {
    cg = memoryCgroup('bpfkit-catalogue', 8 << 20);
    cleanFile(cached, 12);
  } catch { /* no memory controller: no reclaim */ }
  const netWork = startNetWorkload(dir); // binds, listens, lookups, TLS, retransmits and drops
  let stopped = false;
  const run = (script: string) => new Promise<void>(resolve => spawn('sh', ['-c', script], { stdio: 'ignore' }).on('exit', () => resolve()).on('error', () => resolve()));
  // memory work in a loop of its own, so that a slow round (the first compaction can take seconds)
  // never holds up the quick events every tool waits for
  let round = 0;
  const memory = (async () => {
    while (!stopped && cg) {
      dropFromCache(cached);
      await run(`echo $$ > ${cg.dir}/cgroup.procs && exec dd if=${cached} of=/dev/null bs=1M status=none`); // reclaim (drsnoop --memcg, vmscan)
      if (round++ % 3 === 0) await run('echo 1 > /proc/sys/vm/compact_memory'); // a manual compaction (compactsnoop)
      await sleep(300);
    }
  })();
  // an OOM kill (oomkill) in a loop of its own, every ~0.7 s: a slow reclaim or compaction round (the first
  // on a fresh machine) must not leave a short oomkill run without one
  const oom = (async () => {
    while (!stopped && cg) {
      await run(`echo $$ > ${cg.dir}/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=32M count=1 status=none`);
      await sleep(700);
    }
  })();
  const trace = process.env.BPFKIT_WORKLOAD_LOG ? (what: string, t0: number) => process.stderr.write(`workload: ${what} ${Date.now() - t0} ms\n`) : () => {};
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      // kill -0: a kill(2) that succeeds and one that fails (no such PID), for killsnoop and sigsnoop -k; ipcmk/ipcrm for shmsnoop
      await run(`cat /etc/hostname >/dev/null; dd if=/dev/zero of=${file} bs=4096 count=2 oflag=direct status=none; kill -0 $$; kill -0 4000000 2>/dev/null; ipcrm -m $(ipcmk -M 4096 | sed 's/.*: //')`);
      const port = (server.address() as net.AddressInfo | null)?.port;
      if (port) {
        await new Promise<void>(resolve => {
          const c = net.connect(port, '127.0.0.1', () => c.end(Buffer.alloc(1024)));
          c.on('data', () => {}).on('close', () => resolve()).on('error', () => resolve());
        });
      }
      trace('quick round', t0);
      await sleep(300);
    }
  })();
  // the network's work in a loop of its own too (a TLS request waits on a server)
  const network = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      await netWork.round();
      trace('network round', t0);
      await sleep(300);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await Promise.all([loop, memory, oom, network]);
      netWork.stop();
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
      cg?.remove();
    },
  };
}
