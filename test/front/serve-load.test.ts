import { jest } from '@jest/globals';
// The dashboard under load: 10 pages watch one execsnoop (one run, shared) while an exec storm runs as
// fast as this machine goes; every page accounts for every event: what it received, plus what the
// server counted as not delivered to it, plus what the run had before the page joined, equals the run's total, and that total is the storm's execs
// (execsnoop's own lost events aside, counted too). The pages stay responsive (they answer at once,
// rendering coalesced). The server's CPU against the tool's is bench/serve.ts's.
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { tmpDir, waitUntil } from '../kernel/helpers.js';
import { buildStorm, launchChromium, openPage, runFromForm, startDashboard, storm, toolChild, type Dashboard } from './dashboard.js';

jest.setTimeout(240_000);

const dir = tmpDir('bpfkit-serve-load-');
let dashboard: Dashboard;
let browser: Browser;

beforeAll(async () => {
  dashboard = await startDashboard();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  if (dashboard) await dashboard.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('10 pages on one execsnoop under an exec storm: each page\'s events plus its undelivered ones equal the run\'s total, which is the storm\'s execs', async () => {
  const bin = buildStorm(dir);
  const pages: Page[] = [];
  for (let i = 0; i < 10; i++) pages.push(await openPage(browser, dashboard.url));
  const runs: string[] = [];
  for (const p of pages) runs.push(await runFromForm(p, 'execsnoop'));
  expect(new Set(runs).size).toBe(1); // one tool for all of them
  const run = runs[0]!;
  // attached: the one execsnoop holds its links; then a storm of known size
  await waitUntil(() => {
    const pid = toolChild(dashboard.server, 'execsnoop');
    if (!pid) return false;
    const fds = fs.readdirSync(`/proc/${pid}/fdinfo`).map(fd => { try { return fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'); } catch { return ''; } });
    return fds.some(i => /^link_id:/m.test(i));
  }, 'execsnoop to attach', 60_000);
  // the accounting, at a rate every machine reaches (bench/serve.ts measures the most it takes)
  const execs = await storm(bin, 5, 2, 1000);
  const counts = () => Promise.all(pages.map(p => p.evaluate(id => {
    const panel = (window as any).bpfkit.panels.get(id);
    return { received: panel.received as number, missed: panel.missed as number, before: panel.before as number, total: panel.total as number, lost: Number(/lost (\d+)/.exec(document.querySelector(`article.panel[data-run="${id}"] .stats`)!.textContent!)?.[1] ?? 0) };
  }, run)));
  let seen = await counts();
  // until every page has the run's latest batch (execs elsewhere on the machine may add a few)
  const settled = () => seen.every(c => c.total === seen[0]!.total && c.total + c.lost >= execs);
  for (const end = Date.now() + 60_000; Date.now() < end && !settled(); await new Promise(r => setTimeout(r, 500))) seen = await counts();
  const total = seen[0]!.total;
  console.log(`dashboard load: ${execs} execs in 5 s (${(execs / 5).toFixed(0)}/s, at most 1000/s); run total ${total}, lost ${seen[0]!.lost}; per page received+missed+before it joined: ${seen.map(c => `${c.received}+${c.missed}+${c.before}`).join(' ')}`);
  // every exec is an event, or counted lost by the tool (execsnoop may also see other execs on the machine)
  expect(total + seen[0]!.lost).toBeGreaterThanOrEqual(execs);
  for (const c of seen) expect({ accounted: c.received + c.missed + c.before, total: c.total }).toEqual({ accounted: total, total });
  expect(settled()).toBe(true);
  // responsive: each page still answers a click after the storm (how fast is bench/serve.ts's business)
  for (const p of pages) {
    await p.click(`article.panel[data-run="${run}"] button:has-text("Pause")`);
    await p.waitForSelector(`article.panel[data-run="${run}"] button:has-text("Resume")`);
  }
});
