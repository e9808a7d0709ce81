// The tool catalogue: tools/<subsystem>/<tool>.ts, their specs (imported without running them), and
// whether each can run on this kernel.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BPF } from '../bpf.js';
import { definedTools, type ToolSpec } from './index.js';

const here = fileURLToPath(import.meta.url);
/** tools/ next to this build: the sources under tsx, dist/tools when running the built JS. */
const ext = path.extname(here);
const toolsDir = path.resolve(path.dirname(here), '..', '..', 'tools');

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
      if (f.endsWith(ext) && !f.endsWith('.d.ts')) out.push({ name: f.slice(0, -ext.length), subsystem: sub, file: path.join(dir, f) });
    }
  }
  return out;
}

export function findTool(name: string): ToolEntry | undefined {
  return discoverTools().find(t => t.name === name);
}

/** Imports every tool in catalogue mode (defineTool registers instead of running). */
export async function loadSpecs(): Promise<(ToolSpec<any> & { file: string })[]> {
  (globalThis as any).__bpfkitCatalogue = true;
  const out: (ToolSpec<any> & { file: string })[] = [];
  for (const t of discoverTools()) {
    const before = definedTools().length;
    await import(pathToFileURL(t.file).href);
    const spec = definedTools()[before];
    if (spec) out.push({ ...spec, file: t.file });
  }
  return out;
}

/** Why a tool cannot run here (a missing probe kind or tracepoint), or undefined when it can. */
export function cannotRunHere(spec: ToolSpec<any>): string | undefined {
  return BPF.check({ text: spec.program, name: spec.name, substitutes: spec.substitutes });
}

/** How a tool runs here, in words: "yes", "yes, counted at syscalls: <why>" (a substitute), "no: <why>". */
export function runsHere(spec: ToolSpec<any>): string {
  const plan = BPF.plan({ text: spec.program, name: spec.name, substitutes: spec.substitutes });
  if (plan.error) return `no: ${plan.error}`;
  return plan.substituted ? `yes, ${plan.substituted.says}: ${plan.substituted.reason}` : 'yes';
}

/** A tool's --json output kinds (docs/json.md). */
export const outputKinds = (spec: ToolSpec<any>): string[] => (Array.isArray(spec.output) ? spec.output : [spec.output]);
