// The tool catalogue: tools/<subsystem>/<tool>.ts and their metadata. `bpfkit list` reads a manifest
// (in the cache beside the tools' bundles, remade whenever a tool or the library changed) instead of importing every tool,
// and remembers per boot whether each tool's program can run on this kernel.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BPF } from '../bpf.js';
import { cacheDir, projectRoot } from '../compile/index.js';
import { definedTools, hasBpfPrivileges, type ToolSpec } from './index.js';
import { missingDriver } from '../host/drivers.js';
import { writeAtomic } from '../util/files.js';

const toolsDir = path.join(projectRoot, 'tools');

export interface ToolEntry {
  name: string;
  subsystem: string;
  file: string;
}

export function discoverTools(): ToolEntry[] {
  const out: ToolEntry[] = [];
  for (const sub of fs.readdirSync(toolsDir).sort()) {
    const dir = path.join(toolsDir, sub);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).sort()) {
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) out.push({ name: f.slice(0, -3), subsystem: sub, file: path.join(dir, f) });
    }
  }
  return out;
}

export function findTool(name: string): ToolEntry | undefined {
  return discoverTools().find(t => t.name === name);
}

interface Bundler {
  bundleFor(source: string): Promise<string>;
  currentBundle(source: string): string | undefined;
  bundlePath(source: string): string;
  buildBundles(sources: string[]): Promise<string[]>;
}

/** bin/bundle.mjs of this checkout or package (plain JS, beside the launcher). */
const bundler = (): Promise<Bundler> => import(pathToFileURL(path.join(projectRoot, 'bin', 'bundle.mjs')).href);

/** The runnable bundle of a tool file (built when stale). */
export async function toolBundle(file: string): Promise<string> {
  return (await bundler()).bundleFor(file);
}

let loaded: Promise<(ToolSpec<any> & { file: string })[]> | undefined;

/**
 * Imports every tool in catalogue mode (defineTool registers instead of running). Once per process:
 * a module imported again does not run again, so a second import would register nothing.
 */
export function loadSpecs(): Promise<(ToolSpec<any> & { file: string })[]> {
  return (loaded ??= importSpecs());
}

async function importSpecs(): Promise<(ToolSpec<any> & { file: string })[]> {
  (globalThis as any).__bpfkitCatalogue = true;
  const tools = discoverTools();
  const b = await bundler();
  const stale = tools.map(t => t.file).filter(f => !b.currentBundle(f));
  if (stale.length) await b.buildBundles(stale); // one esbuild run for all of them
  const out: (ToolSpec<any> & { file: string })[] = [];
  for (const t of tools) {
    const before = definedTools().length;
    await import(pathToFileURL(await b.bundleFor(t.file)).href);
    const spec = definedTools()[before];
    if (spec) out.push({ ...spec, file: t.file });
  }
  return out;
}

/** One tool's spec, imported in catalogue mode (the exporter checks its arguments with it). */
export async function loadSpec(name: string): Promise<(ToolSpec<any> & { file: string }) | undefined> {
  const tool = findTool(name);
  if (!tool) return undefined;
  (globalThis as any).__bpfkitCatalogue = true;
  const before = definedTools().length;
  await import(pathToFileURL(await toolBundle(tool.file)).href);
  const spec = definedTools()[before] ?? definedTools().find(s => s.name === name);
  return spec && { ...spec, file: tool.file };
}

/** A tool's metadata as the catalogue keeps it: the spec without its functions, and its program's hash. */
export type CatalogueEntry = Omit<ToolSpec<any>, 'program' | 'run' | 'validate'> & { file: string; programHash: string };

const hashOf = (text: string) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 32);

/** The newest mtime under tools/ and lib/: once per process (catalogue() and runsHereCached() both ask). */
let newestSeen: number | undefined;
function newestSource(): number {
  return (newestSeen ??= walkNewest());
}

function walkNewest(): number {
  let newest = 0;
  const walk = (dir: string) => {
    newest = Math.max(newest, fs.statSync(dir).mtimeMs); // a tool added or removed
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(toolsDir);
  walk(path.join(projectRoot, 'lib'));
  return newest;
}

/** Every tool's metadata, from the manifest when it is current, else from the tools themselves. */
export async function catalogue(): Promise<CatalogueEntry[]> {
  const manifestFile = (await bundler()).bundlePath(path.join(projectRoot, 'catalogue.json'));
  try {
    if (fs.statSync(manifestFile).mtimeMs >= newestSource()) return JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch { /* none yet */ }
  const entries = (await loadSpecs()).map(({ program, run, validate, ...meta }) => ({ ...meta, programHash: hashOf(program) }));
  const json = JSON.stringify(entries, (k, v) => (typeof v === 'function' ? undefined : v));
  try {
    writeAtomic(manifestFile, json);
  } catch { /* read-only install: made again next time */ }
  return JSON.parse(json);
}

/** How a tool runs here, in words: "yes", "yes, counted at syscalls: <why>" (a substitute), "no: <why>". */
export function runsHere(spec: ToolSpec<any>): string {
  const noDriver = spec.requires && missingDriver(spec.requires);
  if (noDriver) return `no: ${noDriver}`;
  let plan;
  try {
    plan = BPF.plan({ text: spec.program, name: spec.name, substitutes: spec.substitutes });
  } catch (e) {
    return `no: ${(e as Error).message}`; // e.g. a tracepoint's format unreadable: no tracefs
  }
  if (plan.error) return `no: ${plan.error}`;
  return plan.substituted ? `yes, ${plan.substituted.says}: ${plan.substituted.reason}` : 'yes';
}

/** A tool's --json output kinds (docs/json.md). */
export const outputKinds = (spec: Pick<ToolSpec<any>, 'output'>): string[] => (Array.isArray(spec.output) ? spec.output : [spec.output]);

/**
 * runsHere for catalogue entries, answered from a per-boot cache by program (and substitutes) hash:
 * a kernel's answer does not change until reboot, and checking opens each tool's object through libbpf.
 */
export async function runsHereCached(entries: CatalogueEntry[]): Promise<string[]> {
  let boot = 'unknown';
  try {
    boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch { /* no procfs: no cache key */ }
  const file = path.join(cacheDir(), `runs-here-${boot}.json`);
  let known: Record<string, string> = {};
  // the answers also depend on the library (its fallbacks and substitutes): a changed library asks again
  const library = String(newestSource());
  try {
    known = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch { /* first list since boot */ }
  if (known.__library !== library) known = { __library: library };
  const keyOf = (e: CatalogueEntry) => hashOf(`${e.programHash} ${JSON.stringify(e.substitutes ?? [])} ${JSON.stringify(e.requires ?? null)}`);
  const missing = entries.filter(e => !(keyOf(e) in known));
  if (missing.length) {
    const specs = new Map((await loadSpecs()).map(s => [s.name, s]));
    for (const e of missing) {
      const spec = specs.get(e.name);
      known[keyOf(e)] = spec ? runsHere(spec) : 'no: not found';
    }
    // an unprivileged answer may only reflect what this user cannot see
    if (hasBpfPrivileges()) try {
      writeAtomic(file, JSON.stringify(known));
    } catch { /* read-only cache */ }
  }
  return entries.map(e => known[keyOf(e)]!);
}
