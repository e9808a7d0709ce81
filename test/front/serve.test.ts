import { jest } from '@jest/globals';
// bpfkit serve in a real browser (Debian's chromium through playwright-core), as a user runs it: the
// page with the printed token; runqlat while CPU hogs run draws heat-map cells (counted in the
// screenshot's pixels, not only the DOM); execsnoop shows a marker exec in its table; profile's flame
// graph renders and its search finds the hot function; bad options show the tool's own one line;
// closing the page ends its tools and leaves no BPF program. Without the token, or from another
// origin: 403.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { bpfFdsOf, buildC, root, sleep, tmpDir, unloaded, waitUntil } from '../kernel/helpers.js';
import { launchChromium, openPage as openDashboardPage, runFromForm, startDashboard, toolChild as toolChildOf, type Dashboard } from './dashboard.js';

jest.setTimeout(180_000);

const dir = tmpDir('bpfkit-serve-');
const shots = process.env.BPFKIT_SCREENSHOTS; // a directory to keep the screenshots in
const burn = path.join(dir, 'burn');
let dashboard: Dashboard;
let url = '';
let origin = '';
let browser: Browser;
const children: ChildProcess[] = [];

beforeAll(async () => {
  buildC(burn, `
#include <stdlib.h>
#include <time.h>
volatile unsigned long sink;
__attribute__((noinline)) void hot_loop(void) { for (unsigned long i = 0; i < 9000000; i++) sink += i; }
__attribute__((noinline)) void cold_loop(void) { for (unsigned long i = 0; i < 1000000; i++) sink += i; }
int main(int argc, char **argv) { time_t end = time(NULL) + atoi(argv[1]); while (time(NULL) < end) { hot_loop(); cold_loop(); } return 0; }
`);
  // not through helpers' track(): that kills what it follows after each test, and this lives for all of them
  dashboard = await startDashboard();
  ({ url, origin } = dashboard);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  for (const c of children) c.kill('SIGKILL');
  if (dashboard) expect(await dashboard.stop()).toBe(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

const openPage = () => openDashboardPage(browser, url);
const run = runFromForm;
const toolChild = (tool: string) => toolChildOf(dashboard.server, tool);

/** Pixels of a screenshot (PNG) in the heat map's colour range: orange to dark red, not white or grey. */
function heatPixels(png: Buffer): number {
  const img = PNG.sync.read(png);
  let n = 0;
  for (let i = 0; i < img.data.length; i += 4) {
    const [r, g, b] = [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
    if (r > 120 && r - b > 60 && r - g > 40) n++;
  }
  return n;
}

test('without the token, with a wrong one, or from another origin: 403', async () => {
  const base = `${origin}/api/catalogue`;
  const token = new URL(url).searchParams.get('token')!;
  expect((await fetch(base)).status).toBe(403);
  expect((await fetch(`${origin}/?token=${'0'.repeat(token.length)}`)).status).toBe(403);
  expect((await fetch(`${base}?token=${token}`)).status).toBe(200);
  const cross = await fetch(`${origin}/api/run?token=${token}`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{"tool":"execsnoop"}' });
  expect(cross.status).toBe(403);
});

test('the catalogue by subsystem; runqlat under CPU hogs draws heat-map cells (in the screenshot); execsnoop shows a marker exec', async () => {
  const page = await openPage();
  const subsystems = await page.$$eval('nav summary', s => s.map(x => x.textContent!.split(' ')[0]));
  expect(subsystems).toEqual(expect.arrayContaining(['cpu', 'disk', 'fs', 'kernel', 'net']));
  expect(subsystems.indexOf('cpu')).toBeLessThan(subsystems.indexOf('disk'));
  expect(await page.$eval('li[data-tool="runqlat"]', li => li.className)).toBe('runs');

  for (let i = 0; i < 2; i++) children.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  const runqlat = await run(page, 'runqlat'); // the form's interval is 1 s
  expect(runqlat).toMatch(/^r/);
  await page.waitForFunction(id => ((window as any).bpfkit.panels.get(id)?.view?.cells ?? 0) >= 3, runqlat, { timeout: 60_000 });
  const heat = page.locator(`article.panel[data-run="${runqlat}"] .chart.heat`);
  const shot = await heat.screenshot({ path: path.join(shots ?? dir, 'runqlat-heatmap.png') });
  if (shots) await page.screenshot({ path: path.join(shots, 'dashboard.png') });
  expect(heatPixels(shot)).toBeGreaterThan(200);
  expect(await page.locator(`article.panel[data-run="${runqlat}"]`).getAttribute('data-kind')).toBe('histogram');

  const execsnoop = await run(page, 'execsnoop');
  const marker = path.join(dir, 'bpfkitmarker');
  fs.copyFileSync('/bin/true', marker);
  const row = page.locator(`article.panel[data-run="${execsnoop}"] td`, { hasText: 'bpfkitmarker' }).first();
  // execs until the tool (attached a moment after its panel opened) shows one
  for (const end = Date.now() + 60_000; Date.now() < end && !(await row.count()); await sleep(300)) spawnSync(marker);
  expect(await row.count()).toBe(1);
  await page.fill(`article.panel[data-run="${execsnoop}"] input[type="search"]`, 'bpfkitmarker');
  await page.waitForFunction(id => [...document.querySelectorAll(`article.panel[data-run="${id}"] tbody tr`)].every(tr => tr.textContent!.includes('bpfkitmarker')), execsnoop);

  // closing the page: its tools end and unload
  const pids = [toolChild('runqlat'), toolChild('execsnoop')].filter((p): p is number => !!p);
  expect(pids).toHaveLength(2);
  const programs = pids.flatMap(p => bpfFdsOf(p).programs);
  await page.close();
  await waitUntil(() => !toolChild('runqlat') && !toolChild('execsnoop'), 'the tools to end when the page closed');
  await unloaded(programs);
});

test('profile -p PID: the flame graph renders in its panel and its search finds hot_loop', async () => {
  const page = await openPage();
  const b = spawn(burn, ['20'], { stdio: 'ignore' });
  children.push(b);
  const id = await run(page, 'profile', { pid: String(b.pid), userStacksOnly: true, _positional: '2' });
  await page.waitForFunction(r => document.querySelector(`article.panel[data-run="${r}"]`)?.getAttribute('data-kind') === 'stacks', id, { timeout: 60_000 });
  const frame = page.frameLocator(`article.panel[data-run="${id}"] iframe.flamegraph`);
  await frame.locator('g.frame[data-name="hot_loop"]').first().waitFor();
  const handle = await page.$(`article.panel[data-run="${id}"] iframe.flamegraph`);
  const inner = (await handle!.contentFrame())!;
  const share = await inner.evaluate(() => (window as any).bpfkitFlameGraph.search('hot_loop'));
  expect(share).toBeGreaterThan(0.5);
  await page.close();
});

test('bad options: the tool\'s own one line in the panel, nothing started', async () => {
  const page = await openPage();
  const own = spawnSync(path.join(root, 'tools', 'cpu', 'runqlat.ts'), ['-p', 'x'], { encoding: 'utf8' });
  expect(own.status).toBe(2);
  await run(page, 'runqlat', { pid: 'x' });
  const panel = page.locator('article.panel').first();
  expect(await panel.getAttribute('class')).toContain('failed');
  expect(await panel.locator('.message').textContent()).toBe(own.stderr.trim());
  expect(toolChild('runqlat')).toBeUndefined();
  await page.close();
});

test('--max-tools 1: a second tool is refused with the reason; the same tool and arguments join the one run', async () => {
  const small = await startDashboard(['--max-tools', '1']);
  try {
    const token = new URL(small.url).searchParams.get('token')!;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // a page's stream, read as the page would: its first event names the viewer
    const stream = await fetch(`${small.origin}/api/stream?token=${token}`);
    const reader = stream.body!.getReader();
    let text = '';
    while (!/event: hello\ndata: .*\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const viewer = JSON.parse(/event: hello\ndata: (.*)\n/.exec(text)![1]!).viewer;
    const start = (tool: string, args: string[]) => fetch(`${small.origin}/api/run`, { method: 'POST', headers, body: JSON.stringify({ viewer, tool, args }) });
    const first = await start('vfsstat', ['1']);
    expect(first.status).toBe(200);
    const again = await start('vfsstat', ['1']);
    expect([again.status, (await again.json()).run]).toEqual([200, (await first.json()).run]);
    const second = await start('runqlat', ['1']);
    expect([second.status, await second.json()]).toEqual([429, { error: 'at most 1 tool run at once: stop one first' }]);
    const file = await start('profile', ['--flamegraph', '/tmp/x.svg']);
    expect([file.status, (await file.json()).error]).toEqual([400, '--flamegraph writes a file on the server: run the tool there instead']);
    await reader.cancel();
    await waitUntil(() => !toolChildOf(small.server, 'vfsstat'), 'vfsstat to end when its only viewer went away');
  } finally {
    expect(await small.stop()).toBe(0);
  }
});
