// bench/serve: the dashboard under load. 10 pages in Debian's chromium watch one execsnoop while exec
// storms aim at 5,000 execs/s for BENCH_SECONDS (default 30): the server process's CPU against the
// tool's own (the bar: within 1.5x), the server's RSS over the run (flat), and whether every
// page accounted for every event (received + not delivered + before it joined = the run's total).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildStorm, launchChromium, openPage, runFromForm, startDashboard, storm, toolChild } from '../test/front/dashboard.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 30);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-bench-serve-'));
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const cpuOf = (pid: number) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const dashboard = await startDashboard();
const browser = await launchChromium();
try {
  const bin = buildStorm(dir);
  const pages: Awaited<ReturnType<typeof openPage>>[] = [];
  for (let i = 0; i < 10; i++) pages.push(await openPage(browser, dashboard.url));
  const runs: string[] = [];
  for (const p of pages) runs.push(await runFromForm(p, 'execsnoop'));
  await sleep(3000); // attached
  const tool = toolChild(dashboard.server, 'execsnoop')!;
  const server = dashboard.server.pid!;
  const [server0, tool0] = [cpuOf(server), cpuOf(tool)];
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(rssMiB(server)), 1000);
  const execs = await storm(bin, seconds, 4, 5000);
  // Settle: the run's total stops growing once the tool and the server have caught up with the storm.
  const totalOf = () => pages[0]!.evaluate((id: string) => (window as any).bpfkit.panels.get(id).total as number, runs[0]);
  for (let last = -1, now = await totalOf(), waited = 0; now !== last && waited < 30; waited++) {
    await sleep(1000);
    [last, now] = [now, await totalOf()];
  }
  clearInterval(sampler);
  const [serverCpu, toolCpu] = [cpuOf(server) - server0, cpuOf(tool) - tool0];
  const counts = await Promise.all(pages.map(p => p.evaluate(id => {
    const panel = (window as any).bpfkit.panels.get(id);
    const lost = Number(/lost (\d+)/.exec(document.querySelector(`article.panel[data-run="${id}"] .stats`)?.textContent ?? '')?.[1] ?? 0);
    return { accounted: panel.received + panel.missed + panel.before, total: panel.total, missed: panel.missed, lost };
  }, runs[0])));
  const exact = counts.every(c => c.accounted === c.total);
  const later = rss.slice(Math.floor(rss.length / 3));
  console.log(`serve: ${execs} execs in ${seconds} s (${(execs / seconds).toFixed(0)}/s, aiming at 5000/s), 10 pages on one execsnoop: ` +
    `server CPU ${serverCpu.toFixed(2)} s vs execsnoop's ${toolCpu.toFixed(2)} s (${(serverCpu / Math.max(toolCpu, 0.01)).toFixed(2)}x; bar 1.5x); ` +
    `server RSS ${Math.min(...later).toFixed(0)}-${Math.max(...later).toFixed(0)} MiB over the last two thirds; ` +
    `by 5 s: ${rss.filter((_, i) => i % 5 === 4).map(r => r.toFixed(0)).join(' ')}; ` +
    `pages ${exact ? 'all accounted for every event' : 'NOT all accounted'} (total ${counts[0]?.total}, lost by the tool ${counts[0]?.lost}, not delivered ${counts.map(c => c.missed).join('/')})`);
} finally {
  await browser.close();
  await dashboard.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
