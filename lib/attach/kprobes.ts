// Kernel function names as users write them -> names kprobes can attach to on this kernel.
// (Placeholder until the kprobe lane lands: identity resolution, glob over available_filter_functions.)
import fs from 'node:fs';
import { tracefsDir } from '../compile/tracepoints.js';

export function resolveKernelFunction(name: string): string {
  return name;
}

export function expandKernelFunctions(pattern: string): string[] {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  try {
    const names = fs.readFileSync(`${tracefsDir()}/available_filter_functions`, 'utf8').split('\n').map(l => l.split(' ')[0]);
    return [...new Set(names.filter(n => n && re.test(n)))];
  } catch {
    return [];
  }
}
