// After the whole suite: no BPF program loaded during the tests may still be loaded.
import fs from 'node:fs';
import { baselineFile, loadedPrograms } from './global-setup.js';

export default async function teardown() {
  const now = loadedPrograms();
  if (!now) return; // no bpftool: nothing to check (setup.sh installs it)
  let before = [];
  try { before = JSON.parse(fs.readFileSync(baselineFile, 'utf8')); } catch { /* no baseline */ }
  const old = new Set(before.map(p => p.id));
  // Give the kernel a moment to free programs of processes that just exited.
  for (let i = 0; i < 20; i++) {
    const left = loadedPrograms().filter(p => !old.has(p.id));
    if (left.length === 0) {
      process.stdout.write('teardown: no BPF program left loaded by the tests\n');
      return;
    }
    await new Promise(r => setTimeout(r, 250));
  }
  const left = loadedPrograms().filter(p => !old.has(p.id));
  throw new Error(`BPF programs left loaded after the tests: ${left.map(p => `${p.id}:${p.name}`).join(', ')}`);
}
