// After the whole suite: no BPF program loaded during the tests may still be loaded. Programs held by
// live processes of another checkout (a second suite running at the same time) are not ours to judge.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { programHolders } from './bpf-fds.js';
import { baselineFile, loadedPrograms } from './global-setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function heldByAnotherCheckout(p, held) {
  const pids = p.pids?.length ? p.pids.map(({ pid }) => pid) : held.get(p.id) ?? [];
  if (!pids.length) return false;
  return pids.every(pid => {
    try {
      return !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root + path.sep);
    } catch {
      return false; // gone since we looked: judge again
    }
  });
}

export default async function teardown() {
  const now = loadedPrograms();
  if (!now) return; // no bpftool: nothing to check (setup.sh installs it)
  let before = [];
  try { before = JSON.parse(fs.readFileSync(baselineFile, 'utf8')); } catch { /* no baseline */ }
  const old = new Set(before.map(p => p.id));
  const leftOver = () => {
    const fresh = loadedPrograms().filter(p => !old.has(p.id));
    const held = fresh.length ? programHolders() : new Map();
    return fresh.filter(p => !heldByAnotherCheckout(p, held));
  };
  // Give the kernel a moment to free programs of processes that just exited.
  for (let i = 0; i < 20; i++) {
    if (leftOver().length === 0) {
      process.stdout.write('teardown: no BPF program left loaded by the tests\n');
      return;
    }
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`BPF programs left loaded after the tests: ${leftOver().map(p => `${p.id}:${p.name}`).join(', ')}`);
}
