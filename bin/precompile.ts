// `npm run build`: compile every tool's BPF program into the cache, so a first run does not wait for clang.
import { loadSpecs } from '../lib/cli/catalogue.js';
import { precompile } from '../lib/cli/index.js';

const specs = await loadSpecs();
let built = 0;
for (const s of specs) {
  try {
    if (precompile(s)) built++;
  } catch (e) {
    process.stderr.write(`precompile ${s.name}: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
process.stdout.write(`precompiled ${specs.length} tools (${built} compiled, ${specs.length - built} cached)\n`);
