// Records which BPF programs were loaded before the suite, so teardown can prove we left none behind.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const baselineFile = '/tmp/bpfkit-test-baseline.json';

export function loadedPrograms() {
  // a program unloaded while bpftool walks the list can fail one listing: try again
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    try {
      return JSON.parse(r.stdout || '[]').map(p => ({ id: p.id, name: p.name, type: p.type, pids: p.pids }));
    } catch {
      // partial output: again
    }
  }
  return null;
}

export default async function setup() {
  fs.writeFileSync(baselineFile, JSON.stringify(loadedPrograms() ?? []));
}
