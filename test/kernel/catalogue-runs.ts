// The catalogue-wide runs shared by smoke.test.ts and json.test.ts: every tool's declared basic
// invocations (ToolSpec.invocations), run as a user runs them, a few at a time, while a workload gives
// every kind of tool something to report. A new tool is covered by declaring its invocations.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadSpecs } from '../../lib/cli/catalogue.js';
import type { Invocation, ToolSpec } from '../../lib/cli/index.js';
import { startTool, type Running } from './helpers.js';
import { cleanFile, dropFromCache, memoryCgroup } from './memcg.js';
import { startNetWorkload } from './netns.js';

export type Spec = ToolSpec<any> & { file: string };
export const specs: Spec[] = await loadSpecs();

export interface Run {
  tool: string;
  args: string[];
  ends: Invocation['ends'];
  code: number | null;
  /** Seconds from start to exit. */
  seconds: number;
  /** ctrl-c runs: whether it was still running 5 s after start (and after it had printed something). */
  runningAfter5s?: boolean;
  stdout: string;
  stderr: string;
}

/** Every (tool, invocation) pair, with `extra` arguments appended (e.g. --json). */
export function invocations(extra: string[] = []) {
  return specs.flatMap(spec => spec.invocations.map(inv => ({ spec, args: [...inv.args, ...extra], ends: inv.ends })));
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

async function runOne(tool: string, args: string[], ends: Invocation['ends']): Promise<Run> {
  const started = Date.now();
  const t: Running = startTool(tool, args);
  let runningAfter5s: boolean | undefined;
  if (ends === 'ctrl-c') {
    // ready once it printed anything (a header, a banner on stderr, a record); then 5 s from start
    const deadline = started + 60_000;
    while (!t.stdout() && !t.stderr() && t.child.exitCode === null && Date.now() < deadline) await sleep(100);
    await sleep(Math.max(0, started + 5000 - Date.now()));
    runningAfter5s = t.child.exitCode === null && t.child.signalCode === null;
    await t.stop('SIGINT');
  } else {
    const timer = setTimeout(() => t.child.kill('SIGKILL'), 60_000);
    await t.exited;
    clearTimeout(timer);
  }
  const code = await t.exited;
  return { tool, args, ends, code, seconds: (Date.now() - started) / 1000, runningAfter5s, stdout: t.stdout(), stderr: t.stderr() };
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

/** Runs them all, `parallel` at a time (the machine has 2 CPUs, and start-up is CPU-bound). */
async function runAll(list: ReturnType<typeof invocations>, parallel = 3): Promise<Run[]> {
  const results: Run[] = new Array(list.length);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      results[i] = await runOne(list[i]!.spec.name, list[i]!.args, list[i]!.ends);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
}

/**
 * Something for every tool to see, every 300 ms until stopped: execs and exits (sh, cat, dd), opens,
 * direct-I/O writes to the disk, kill(2) calls, and a loopback TCP session; every other round, memory reclaim: a dd
 * reading 12 MiB (not cached) through the page cache of an 8 MiB memory cgroup (drsnoop --memcg).
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
  let round = 0;
  const loop = (async () => {
    while (!stopped) {
      if (cg && round++ % 2 === 0) {
        dropFromCache(cached);
        const pressure = `echo $$ > ${cg.dir}/cgroup.procs && exec dd if=${cached} of=/dev/null bs=1M status=none`;
        await new Promise<void>(resolve => spawn('sh', ['-c', pressure], { stdio: 'ignore' }).on('exit', () => resolve()).on('error', () => resolve()));
      }
      await new Promise<void>(resolve => {
        // kill -0: a kill(2) that succeeds and one that fails (no such PID), for killsnoop and sigsnoop -k
        const sh = spawn('sh', ['-c', `cat /etc/hostname >/dev/null; dd if=/dev/zero of=${file} bs=4096 count=2 oflag=direct status=none; kill -0 $$; kill -0 4000000 2>/dev/null`], { stdio: 'ignore' });
        sh.on('exit', () => resolve());
        sh.on('error', () => resolve());
      });
      const port = (server.address() as net.AddressInfo | null)?.port;
      if (port) {
        await new Promise<void>(resolve => {
          const c = net.connect(port, '127.0.0.1', () => c.end(Buffer.alloc(1024)));
          c.on('data', () => {}).on('close', () => resolve()).on('error', () => resolve());
        });
      }
      await netWork.round();
      await sleep(300);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      netWork.stop();
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
      cg?.remove();
    },
  };
}
