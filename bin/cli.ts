// bpfkit list [subsystem] | bpfkit doctor | bpfkit <tool> [args...] | bpfkit docs
import { featureReport } from '../lib/attach/features.js';
import { catalogue, findTool, loadSpecs, outputKinds, runsHereCached, toolBundle } from '../lib/cli/catalogue.js';
import { formatTable } from '../lib/output/index.js';
import { pathToFileURL } from 'node:url';
import { writeToolDocs } from './docs.js';
import { flamegraphCommand } from './flamegraph.js';

const usage = `Usage: bpfkit <command>

  bpfkit list [subsystem]    the tools by subsystem, and whether each can run on this kernel
  bpfkit doctor              what this kernel supports (probe kinds, BTF, ring buffers)
  bpfkit <tool> [args...]    run a tool (same as tools/<subsystem>/<tool>.ts)
  bpfkit flamegraph [file]   folded stacks (profile -f, offcputime -f, ...) as an interactive SVG
  bpfkit docs                regenerate docs/tools/*.md from the tools' metadata
`;

const [cmd, ...rest] = process.argv.slice(2);
const plain = !process.stdout.isTTY;

async function list(subsystem?: string) {
  const specs = (await catalogue()).filter(s => !subsystem || s.subsystem === subsystem);
  if (subsystem && specs.length === 0) {
    process.stderr.write(`bpfkit: no tools in subsystem '${subsystem}'\n`);
    process.exit(2);
  }
  const runs = await runsHereCached(specs);
  const rows = specs.map((s, i) => [s.subsystem, s.name, s.description, Object.keys(s.ports).join(','), Object.keys(s.probes).join(','),
    outputKinds(s).join(','), runs[i]!]);
  process.stdout.write(formatTable(['SUBSYSTEM', 'TOOL', 'DESCRIPTION', 'PORTS', 'PROBES', 'OUTPUT', 'RUNS HERE'], rows, { plain }) + '\n');
}

function doctor() {
  const rows = featureReport().map(f => [f.feature, f.ok ? 'yes' : 'no', f.why ?? '']);
  process.stdout.write(formatTable(['FEATURE', 'AVAILABLE', 'WHY NOT'], rows, { plain }) + '\n');
}

switch (cmd) {
  case undefined: case '-h': case '--help': case 'help':
    process.stdout.write(usage);
    process.exit(cmd ? 0 : 2);
    break;
  case 'list':
    await list(rest[0]);
    break;
  case 'doctor':
    doctor();
    break;
  case 'docs':
    await writeToolDocs(await loadSpecs());
    break;
  case 'flamegraph':
    flamegraphCommand(rest);
    break;
  case 'catalogue': // every tool's metadata as JSON (the build makes the manifest with it; the fronts read it)
    process.stdout.write(JSON.stringify(await catalogue()) + '\n');
    break;
  default: {
    const tool = findTool(cmd);
    if (!tool) {
      process.stderr.write(`bpfkit: no tool or command named '${cmd}' (see: bpfkit list)\n`);
      process.exit(2);
    }
    process.argv = [process.argv[0], tool.file, ...rest];
    await import(pathToFileURL(await toolBundle(tool.file)).href);
  }
}
