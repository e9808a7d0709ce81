// Shared by the dashboard's browser tests and its load bench: `bpfkit serve` started as a user starts
// it, Debian's chromium, pages opened with the token, a tool run from the catalogue form, and an exec
// storm (a C program forking and exec'ing a one-syscall static program as fast as it can, or at a set rate).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import playwright, { type Browser, type Page } from 'playwright-core';

// the default export (CommonJS), so that the benches' bundles, which import it by path, get it too
const { chromium } = playwright;

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface Dashboard { server: ChildProcess; url: string; origin: string; stop(): Promise<number | null> }

/** `bpfkit serve --listen 127.0.0.1:0 [extra]`, once it printed its URL. */
export async function startDashboard(extra: string[] = []): Promise<Dashboard> {
  const server = spawn(path.join(root, 'bin', 'bpfkit'), ['serve', '--listen', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout!.on('data', d => (out += d));
  for (const end = Date.now() + 60_000; !/open http:\S+\n/.test(out); await sleep(50)) {
    if (server.exitCode !== null || Date.now() > end) throw new Error(`bpfkit serve did not start: ${out}`);
  }
  const url = /open (http:\S+)/.exec(out)![1]!;
  return {
    server, url, origin: new URL(url).origin,
    stop() {
      if (server.exitCode !== null) return Promise.resolve(server.exitCode);
      const exited = new Promise<number | null>(resolve => server.on('exit', code => resolve(code)));
      server.kill('SIGTERM');
      return exited;
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]');
  return page;
}

/** Opens a tool's form in the catalogue, fills fields (name -> value; true ticks a checkbox), runs it: the run's id, or '' if refused. */
export async function runFromForm(page: Page, tool: string, fields: Record<string, string | boolean> = {}): Promise<string> {
  const before = await page.$$eval('article.panel', ps => ps.length);
  await page.click(`li[data-tool="${tool}"] button.tool`);
  const form = `form[data-tool="${tool}"]`;
  await page.waitForSelector(form);
  for (const [name, value] of Object.entries(fields)) {
    if (value === true) await page.check(`${form} input[name="${name}"]`);
    else await page.fill(`${form} input[name="${name}"]`, String(value));
  }
  await page.click(`${form} button[type="submit"]`);
  await page.waitForFunction(n => document.querySelectorAll('article.panel').length > n, before);
  await page.waitForFunction(() => {
    const p = document.querySelector('article.panel');
    return p && (p.getAttribute('data-run') || p.classList.contains('failed'));
  });
  return (await page.locator('article.panel').first().getAttribute('data-run')) ?? '';
}

/** The server's tool processes (its children) running a tool file. */
export function toolChild(server: ChildProcess, tool: string): number | undefined {
  const r = spawnSync('pgrep', ['-P', String(server.pid), '-f', `${tool}.ts`], { encoding: 'utf8' });
  return r.stdout.trim() ? Number(r.stdout.trim().split('\n')[0]) : undefined;
}

/**
 * Builds the exec storm: `storm SECONDS [RATE]` forks and execs `storm-exit` (a static program of one
 * exit syscall, no dynamic loader or libc to map: ~10x the execs/s of /bin/true here), then prints how many it ran.
 */
export function buildStorm(dir: string): string {
  const bin = path.join(dir, 'storm');
  const exit0 = path.join(dir, 'storm-exit');
  fs.writeFileSync(`${exit0}.c`, 'void _start(void) { __asm__ volatile("mov $60, %eax\\n xor %edi, %edi\\n syscall"); }\n');
  const built = spawnSync('gcc', ['-O2', '-static', '-nostdlib', '-o', exit0, `${exit0}.c`], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(built.stderr);
  fs.writeFileSync(`${bin}.c`, `
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv)
{
	double seconds = atof(argv[1]), rate = argc > 2 ? atof(argv[2]) : 0, start = now();
	long n = 0;
	while (now() - start < seconds) {
		if (rate > 0 && n >= rate * (now() - start)) { usleep(200); continue; }
		pid_t p = fork();
		if (p == 0) { execl("${exit0}", "storm-exit", (char *)0); _exit(127); }
		waitpid(p, 0, 0);
		n++;
	}
	printf("%ld\\n", n);
	return 0;
}
`);
  const r = spawnSync('gcc', ['-O2', '-o', bin, `${bin}.c`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return bin;
}

/** Runs `parallel` storms for `seconds`; resolves with the execs they made. */
export function storm(bin: string, seconds: number, parallel = 1, rate = 0): Promise<number> {
  return Promise.all(Array.from({ length: parallel }, () => new Promise<number>((resolve, reject) => {
    let out = '';
    const c = spawn(bin, [String(seconds), ...(rate ? [String(rate / parallel)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout!.on('data', d => (out += d));
    c.on('exit', code => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`storm exited ${code}`))));
  }))).then(ns => ns.reduce((a, b) => a + b, 0));
}
