// Flame graphs: the SVG's frames from folded stacks, and the page itself in a real headless Chromium
// (Debian's): the hot function is drawn at its share of the width, search highlights it and reports its
// share, a click zooms into it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { frameKind, parseFolded, renderFlameGraph } from '../../lib/output/flamegraph.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const folded = [
  'app;main;work;hot_loop 900',
  'app;main;work;cold_loop 100',
  'app;main;do_syscall_64_[k];ksys_read_[k] 40',
  'node;LazyCompile:*fib_[j] 60',
  'garbage line without a count',
].join('\n');

test('folded stacks -> frames: widths are counts, kinds from the annotations, bad lines skipped', () => {
  const stacks = parseFolded(folded);
  expect(stacks).toHaveLength(4);
  expect(stacks[0]).toEqual([['app', 'main', 'work', 'hot_loop'], 900]);
  expect([frameKind('ksys_read_[k]'), frameKind('LazyCompile:*fib_[j]'), frameKind('hot_loop')]).toEqual(['kernel', 'jit', 'user']);
  const svg = renderFlameGraph(stacks, { width: 1100 });
  const frame = (name: string) => new RegExp(`data-name="${name.replace(/[[\]*]/g, '\\$&')}" data-x="(\\d+)" data-v="(\\d+)" data-d="(\\d+)"`).exec(svg);
  expect(frame('all')?.slice(1)).toEqual(['0', '1100', '0']);
  // siblings sorted by name: do_syscall_64_[k] (40), then work; in work, cold_loop (100), then hot_loop
  expect(frame('work')?.slice(1)).toEqual(['40', '1000', '3']);
  expect(frame('hot_loop')?.slice(1)).toEqual(['140', '900', '4']);
  expect(svg).toContain('<title>hot_loop (900 samples, 81.82%)</title>');
});

describe('in Chromium', () => {
  let browser: Browser;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-flame-'));
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => browser?.close());

  test('bpfkit flamegraph: hot_loop drawn at its share, searchable, zoomable; a screenshot', async () => {
    const input = path.join(dir, 'stacks.folded');
    const svgFile = path.join(dir, 'graph.svg');
    fs.writeFileSync(input, folded);
    const r = spawnSync(path.join(root, 'bin', 'bpfkit'), ['flamegraph', input, '-o', svgFile, '--title', 'CPU'], { encoding: 'utf8' });
    expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: '' });
    const page = await browser.newPage({ viewport: { width: 1200, height: 200 } });
    await page.goto(`file://${svgFile}`);
    const width = (name: string) => page.$eval(`g.frame[data-name="${name}"] rect`, r => r.getBoundingClientRect().width);
    const all = await width('all');
    expect(all).toBeGreaterThan(1100);
    expect((await width('hot_loop')) / all).toBeCloseTo(900 / 1100, 2);
    expect(await page.$eval('g.frame[data-name="hot_loop"] text', t => t.textContent)).toBe('hot_loop');

    const share = await page.evaluate(() => (window as any).bpfkitFlameGraph.search('loop$'));
    expect(share).toBeCloseTo(1000 / 1100, 5);
    expect(await page.$eval('#matched', t => t.textContent)).toBe('Matched: 90.9%');
    expect(await page.$eval('g.frame[data-name="hot_loop"] rect', r => r.getAttribute('fill'))).toBe('rgb(230,0,230)');
    expect(await page.$eval('g.frame[data-name="fib"] rect', r => r.getAttribute('fill')).catch(() => 'none')).toBe('none');

    await page.click('g.frame[data-name="work"]');
    expect((await width('hot_loop')) / all).toBeCloseTo(0.9, 2); // work fills the width now
    expect(await page.$eval('g.frame[data-name="LazyCompile:*fib_[j]"]', g => (g as SVGGElement).style.display)).toBe('none');
    const shot = await page.screenshot({ path: path.join(dir, 'graph.png') });
    expect(shot.length).toBeGreaterThan(1000);
    await page.close();
  });
});
