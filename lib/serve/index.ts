// bpfkit serve: the web dashboard. A Hono app on Node's HTTP server serves one page (front/app.ts,
// bundled with ECharts by esbuild at start: nothing from a CDN), the catalogue, and one server-sent-
// events stream per open page; tools run as catalogue children (lib/serve/runs.ts). Everything needs
// the token printed at start; requests another origin makes are refused.
import { serve } from '@hono/node-server';
import crypto from 'node:crypto';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { catalogue, runsHereCached } from '../cli/catalogue.js';
import { commandDie, commandFlags, listeningAt, parseListen } from '../cli/command.js';
import { projectRoot } from '../compile/index.js';
import { fileWritingOptions, RunError, Runs, type Viewer } from './runs.js';
import { exitProcess } from '../cli/exit.js';

export const defaultListen = '127.0.0.1:9436';
/**
 * What a viewer's connection may have in flight (written, not yet taken by the socket) before its batches
 * are counted as missed instead: by bytes, so that ten slow pages under a storm hold ~40 MiB, not the
 * hundreds that 64 batches of 500 records each were.
 */
const maxInFlightBytes = 4 << 20;

const usage = `Usage: bpfkit serve [--listen ADDR:PORT] [--max-tools N]

Serves the dashboard: the tool catalogue by subsystem, and tools run from the browser with live heat
maps, event tables, top tables, bars and flame graphs. Prints the URL to open, with its access token.

  --listen ADDR:PORT  where to serve (default ${defaultListen}; any address still needs the token)
  --max-tools N       tools running at once, for all pages together (default 8)
`;

/** The browser side: front/app.ts and ECharts in one script, bundled once per server start. */
async function bundleFront(): Promise<string> {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [path.join(projectRoot, 'front', 'app.ts')], bundle: true, write: false, format: 'iife',
    minify: true, target: 'es2022', legalComments: 'none', logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

const page = (token: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="bpfkit-token" content="${token}"><title>bpfkit</title>
<link rel="stylesheet" href="/app.css?token=${token}"></head>
<body><header><h1>bpfkit</h1><span id="host"></span><span id="status"></span></header>
<main><nav id="catalogue" aria-label="tools"></nav><section id="panels"></section></main>
<script src="/app.js?token=${token}"></script></body></html>
`;

export interface Server { url: string; token: string; close(): Promise<void>; runs: Runs }

/** Starts the dashboard (the tests start it through `bpfkit serve`, as a user does). */
export async function startServer(opts: { host: string; port: number; maxTools: number; batchMs?: number }): Promise<Server> {
  const token = crypto.randomBytes(16).toString('hex');
  const tokenBuf = Buffer.from(token);
  const script = await bundleFront();
  const css = (await import('node:fs')).readFileSync(path.join(projectRoot, 'front', 'app.css'), 'utf8');
  const runs = new Runs(opts.maxTools, opts.batchMs);
  const viewers = new Map<string, Viewer>();
  const app = new Hono();

  // the token (query ?token= or Authorization: Bearer), and no other origin, on every request
  app.use('*', async (c, next) => {
    const given = c.req.query('token') ?? c.req.header('authorization')?.replace(/^Bearer /, '') ?? '';
    const buf = Buffer.from(given);
    if (buf.length !== tokenBuf.length || !crypto.timingSafeEqual(buf, tokenBuf)) return c.text('forbidden: a token is needed (the URL bpfkit serve printed)\n', 403);
    const origin = c.req.header('origin');
    const host = c.req.header('host');
    if ((origin && origin !== `http://${host}`) || c.req.header('sec-fetch-site') === 'cross-site') return c.text('forbidden: another origin\n', 403);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    await next();
  });
  app.get('/', c => {
    c.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
    return c.html(page(token));
  });
  app.get('/app.js', c => c.body(script, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/app.css', c => c.body(css, 200, { 'content-type': 'text/css; charset=utf-8' }));
  app.get('/flamegraph/:run/:n', c => {
    const svg = runs.flamegraph(c.req.param('run'));
    if (!svg) return c.text('no such flame graph\n', 404);
    // the SVG's own script (zoom, search) and styles, nothing else
    c.header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
    return c.body(svg, 200, { 'content-type': 'image/svg+xml; charset=utf-8' });
  });
  app.get('/api/catalogue', async c => {
    const entries = await catalogue();
    const runsHere = await runsHereCached(entries);
    return c.json(entries.map((e, i) => ({
      name: e.name, subsystem: e.subsystem, description: e.description, output: e.output, positional: e.positional ?? '',
      runs_here: runsHere[i], examples: e.examples ?? [],
      options: Object.entries(e.options).filter(([key]) => !fileWritingOptions.includes(`--${key}`)).map(([key, o]) => ({ key, alias: o.alias, type: o.type ?? 'string', describe: o.describe ?? '', default: o.default })),
    })));
  });
  // one stream per open page: the viewer; it leaves every run it watched when the page goes away
  app.get('/api/stream', c => streamSSE(c, async stream => {
    const id = crypto.randomBytes(8).toString('hex');
    let inFlightBytes = 0;
    const viewer: Viewer = {
      id, missed: 0,
      send(event, data) {
        if (stream.aborted || stream.closed) return false;
        if (inFlightBytes >= maxInFlightBytes) return false;
        const text = JSON.stringify(data);
        inFlightBytes += text.length;
        stream.writeSSE({ event, data: text }).finally(() => (inFlightBytes -= text.length)).catch(() => {});
        return true;
      },
    };
    viewers.set(id, viewer);
    const gone = new Promise<void>(resolve => stream.onAbort(resolve));
    await stream.writeSSE({ event: 'hello', data: JSON.stringify({ viewer: id }) });
    const keepAlive = setInterval(() => void stream.writeSSE({ event: 'ping', data: '{}' }).catch(() => {}), 15_000);
    await gone;
    clearInterval(keepAlive);
    viewers.delete(id);
    runs.leaveAll(viewer);
  }));
  const viewerOf = (c: Context, body: any): Viewer => {
    const v = viewers.get(String(body?.viewer ?? ''));
    if (!v) throw new RunError('viewer: the id of this page\'s open stream', 400);
    return v;
  };
  const api = (handler: (c: Context, body: any) => Promise<unknown> | unknown) => async (c: Context) => {
    let body: any;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: 'a JSON body' }, 400);
    }
    try {
      return c.json((await handler(c, body)) ?? {});
    } catch (e) {
      if (e instanceof RunError) return c.json({ error: e.message }, e.status as 400);
      throw e;
    }
  };
  app.post('/api/run', api((c, b) => runs.start(viewerOf(c, b), b.tool, b.args ?? [])));
  app.post('/api/stop', api((c, b) => runs.stop(viewerOf(c, b), String(b.run))));
  app.post('/api/close', api((c, b) => runs.leave(viewerOf(c, b), String(b.run))));

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const where = listeningAt(address, `${opts.host}:${opts.port}`);
  return {
    url: `http://${where}/?token=${token}`, token, runs,
    async close() {
      await runs.stopAll();
      await new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}

/** `bpfkit serve`: exits 2 (one line) on bad flags. */
export async function serveCommand(argv: string[]): Promise<void> {
  const die = commandDie('serve');
  const flags = commandFlags('serve', argv, usage, { '--listen': ['-l'], '--max-tools': [] });
  const listenText = flags['--listen'] ?? defaultListen;
  const max = flags['--max-tools'] ?? '8';
  const maxTools = /^\d+$/.test(max) && Number(max) > 0 ? Number(max) : die(`--max-tools ${max}: a number above 0`, 2);
  const listen = parseListen(listenText) ?? die(`--listen ${listenText}: expected ADDR:PORT, e.g. ${defaultListen}`, 2);
  let server: Server;
  try {
    server = await startServer({ ...listen, maxTools });
  } catch (e) {
    die(`cannot listen on ${listenText}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 1);
  }
  process.stdout.write(`bpfkit serve: open ${server!.url}\n`);
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (closing) return;
      closing = true;
      void server.close().then(() => exitProcess(0));
    });
  }
}
