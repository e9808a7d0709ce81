// `npm run build`: compile every tool's BPF program into the cache, so a first run does not wait for clang.
// The compiles run in parallel, one per CPU (the first builds the precompiled header the others wait for).
import { loadSpecs } from '../lib/cli/catalogue.js';
import os from 'node:os';
import { prepareCoreBtf } from '../lib/compile/core-btf.js';
import { eachInParallel } from '../lib/util/parallel.js';
import { cacheDir, compileMany, type CompileRequest, type CompileResult } from '../lib/compile/index.js';

const specs = await loadSpecs();
// The same request as a tool's own BPF.load({ text: spec.program, name: spec.name }) makes: same cache key.
const reqs: CompileRequest[] = specs.map(s => ({ text: s.program, name: `${s.name}.bpf.c` }));
const parallel = process.env.BPFKIT_PRECOMPILE_JOBS ? Number(process.env.BPFKIT_PRECOMPILE_JOBS) : undefined;
const results = await compileMany(reqs, { parallel });
let built = 0;
results.forEach((r, i) => {
  if (r instanceof Error) {
    process.stderr.write(`precompile ${specs[i].name}: ${r.message}\n`);
    process.exitCode = 1;
  } else if (!r.cached) {
    built++;
  }
});
// and each object's cut of this kernel's BTF, which a first run would otherwise make (lib/compile/core-btf)
const objects = results.filter((r): r is CompileResult => !(r instanceof Error));
await eachInParallel(objects, parallel ?? os.availableParallelism(), r => prepareCoreBtf(cacheDir(), r.key, r.elf));
process.stdout.write(`precompiled ${specs.length} tools (${built} compiled, ${specs.length - built} cached)\n`);
