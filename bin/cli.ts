// bpfkit list [subsystem] | bpfkit doctor | bpfkit <tool> [args...] | bpfkit flamegraph | bpfkit --version
// (not in the help, for maintainers and the build: bpfkit docs — rewrites docs/tools/ from the tools'
// metadata —, and bpfkit catalogue)
import fs from 'node:fs';
import path from 'node:path';
import { featureReport } from '../lib/attach/features.js';
import { catalogue, findTool, loadSpecs, outputKinds, runsHereCached, toolBundle } from '../lib/cli/catalogue.js';
import { hasBpfPrivileges } from '../lib/cli/index.js';
import { projectRoot } from '../lib/compile/index.js';
import { formatTable } from '../lib/output/index.js';
import { pathToFileURL } from 'node:url';
import { writeToolDocs } from './docs.js';
import { flamegraphCommand } from './flamegraph.js';

const usage = `Usage: bpfkit <command>

  bpfkit list [subsystem]    the tools by subsystem, and whether each can run on this kernel
  bpfkit doctor              what this kernel supports (probe kinds, BTF, ring buffers)
  bpfkit <tool> [args...]    run a tool (same as tools/<subsystem>/<tool>.ts)
  bpfkit flamegraph [file]   folded stacks (profile -f, offcputime -f, ...) as an interactive SVG
  bpfkit export [--config F] tools' histograms and counters as Prometheus metrics (/metrics)
  bpfkit serve [--listen A:P] the web dashboard: the catalogue, tools run live in the browser
  bpfkit --version           print bpfkit's version
`;

const [cmd, ...rest] = process.argv.slice(2);
const plain = !process.stdout.isTTY;

/** One line on stderr and the exit code: never a stack trace. */
function die(message: string, code: number): never {
  process.stderr.write(`bpfkit: ${message}\n`);
  process.exit(code);
}

/** Checking programs against the kernel needs the bpf() syscall: say so once rather than a wrong answer per row. */
function needPrivileges(what: string): void {
  if (!hasBpfPrivileges()) die(`${what} needs root (or CAP_BPF and CAP_PERFMON) to probe the kernel`, 1);
}

async function list(subsystem?: string) {
  needPrivileges('list');
  const specs = (await catalogue()).filter(s => !subsystem || s.subsystem === subsystem);
  if (subsystem && specs.length === 0) die(`no tools in subsystem '${subsystem}'`, 2);
  const runs = await runsHereCached(specs);
  const rows = specs.map((s, i) => [s.subsystem, s.name, s.description, Object.keys(s.ports).join(','), Object.keys(s.probes).join(','),
    outputKinds(s).join(','), runs[i]!]);
  process.stdout.write(formatTable(['SUBSYSTEM', 'TOOL', 'DESCRIPTION', 'PORTS', 'PROBES', 'OUTPUT', 'RUNS HERE'], rows, { plain }) + '\n');
}

function doctor() {
  needPrivileges('doctor');
  const rows = featureReport().map(f => [f.feature, f.ok ? 'yes' : 'no', f.why ?? '']);
  process.stdout.write(formatTable(['FEATURE', 'AVAILABLE', 'WHY NOT'], rows, { plain }) + '\n');
}

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

try {
  switch (cmd) {
    case undefined: case '-h': case '--help': case 'help':
      process.stdout.write(usage);
      process.exit(cmd ? 0 : 2);
      break;
    case '-V': case '--version': case 'version':
      process.stdout.write(`bpfkit ${version()}\n`);
      break;
    case 'list':
      await list(rest[0]);
      break;
    case 'doctor':
      doctor();
      break;
    case 'docs': // maintainers (npm run docs): writes into the source tree
      await writeToolDocs(await loadSpecs());
      break;
    case 'flamegraph':
      flamegraphCommand(rest);
      break;
    case 'export':
      await (await import('../lib/export/index.js')).exportCommand(rest); // loaded only for this command
      break;
    case 'serve':
      await (await import('../lib/serve/index.js')).serveCommand(rest);
      break;
    case 'catalogue': // every tool's metadata as JSON (the build makes the manifest with it; the fronts read it)
      process.stdout.write(JSON.stringify(await catalogue()) + '\n');
      break;
    default: {
      const tool = findTool(cmd);
      if (!tool) die(`no tool or command named '${cmd}' (see: bpfkit list)`, 2);
      process.argv = [process.argv[0]!, tool.file, ...rest];
      await import(pathToFileURL(await toolBundle(tool.file)).href);
    }
  }
} catch (e) {
  die(e instanceof Error ? e.message : String(e), 1);
}
