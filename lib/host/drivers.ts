// Whether a kernel driver a tool traces is here (md, SCSI, NVMe). A tool declares it (ToolSpec.requires):
// without it there is nothing to trace, so the tool says so in one line (exit 1), and `bpfkit list`
// and the catalogue tests know it cannot run here, whatever its probes' fallbacks could load.
import fs from 'node:fs';
import { tracepointExists } from '../attach/features.js';

export interface DriverCheck {
  /** The driver as users know it: "SCSI", "NVMe", "md (software RAID)". */
  driver: string;
  /** Tracepoints the driver defines ("scsi:scsi_dispatch_cmd_start"), any one of which shows it is built. */
  tracepoints?: string[];
  /** Kernel functions that are there when it is (in /proc/kallsyms). */
  functions?: string[];
  /** Files it creates (/proc/mdstat). */
  paths?: string[];
}

function kernelHasFunction(name: string): boolean {
  try {
    return new RegExp(`^[0-9a-f]+ [tTwW] ${name}(\\s|$)`, 'm').test(fs.readFileSync('/proc/kallsyms', 'utf8'));
  } catch {
    return false;
  }
}

/** "this kernel has no <driver> driver (no ..., no ...)" when none of its signs is here; else undefined. */
export function missingDriver(check: DriverCheck): string | undefined {
  const tps = check.tracepoints ?? [];
  const fns = check.functions ?? [];
  const paths = check.paths ?? [];
  const present = tps.some(t => tracepointExists(...(t.split(':') as [string, string]))) ||
    fns.some(kernelHasFunction) || paths.some(p => fs.existsSync(p));
  if (present) return undefined;
  const missing = [...tps.map(t => `${t} tracepoint`), ...fns.map(f => `${f}()`), ...paths];
  return `this kernel has no ${check.driver} driver (no ${missing.join(', no ')})`;
}
