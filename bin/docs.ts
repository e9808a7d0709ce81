// `bpfkit docs`: docs/tools/<tool>.md from each tool's own metadata (description, what it ports, its
// probes and substitutes, options, examples, output kind) plus the example output captured on a real
// machine in docs/tools/examples/<tool>.txt.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { kebabCase, optionAliases, type ReferenceSource, type ToolSpec } from '../lib/cli/index.js';
import { outputKinds } from '../lib/cli/catalogue.js';

/** Where each reference project keeps its files (the book's tools without a file name a chapter). */
const referenceRepos: Record<ReferenceSource, { title: string; url: string }> = {
  bcc: { title: 'BCC', url: 'https://github.com/iovisor/bcc/blob/master/' },
  'libbpf-tools': { title: 'libbpf-tools', url: 'https://github.com/iovisor/bcc/blob/master/' },
  bpftrace: { title: 'bpftrace', url: 'https://github.com/bpftrace/bpftrace/blob/master/' },
  book: { title: 'BPF Performance Tools (the book)', url: 'https://github.com/brendangregg/bpf-perf-tools-book/blob/master/' },
};

function portRows(spec: ToolSpec<any>): string[] {
  return Object.entries(spec.ports).map(([source, where]) => {
    const repo = referenceRepos[source as ReferenceSource];
    const place = /\.\w+$/.test(where) ? `[\`${where}\`](${repo.url}${where})` : where;
    return `- ${repo.title}: ${place}`;
  });
}

function probeRows(spec: ToolSpec<any>): string[] {
  const rows = ['| probe kind | targets |', '| --- | --- |'];
  for (const [kind, targets] of Object.entries(spec.probes)) rows.push(`| ${kind} | ${targets.map(t => `\`${t}\``).join(', ')} |`);
  return rows;
}

function optionRows(spec: ToolSpec<any>): string[] {
  const rows = ['| option | meaning |', '| --- | --- |'];
  for (const [name, o] of Object.entries(spec.options)) {
    const flag = kebabCase(name);
    // every spelling: a one-letter name (biolatency's j) is a short option, -j, as yargs parses it
    const names = [flag, ...optionAliases(o)];
    const spelled = [...names.filter(a => a.length === 1).map(a => `-${a}`), ...names.filter(a => a.length > 1).map(a => `--${a}`)];
    const arg = o.type === 'boolean' ? '' : ` ${flag.toUpperCase().replace(/-/g, '_')}`;
    rows.push(`| \`${spelled.join(', ')}${arg}\` | ${o.describe ?? ''}${o.default !== undefined && o.type !== 'boolean' ? ` (default ${o.default})` : ''} |`);
  }
  rows.push('| `--json` | newline-delimited JSON instead of text |');
  return rows;
}

export async function writeToolDocs(specs: (ToolSpec<any> & { file: string })[]): Promise<void> {
  const dir = path.join(projectRoot, 'docs', 'tools');
  fs.mkdirSync(dir, { recursive: true });
  const index = ['# Tools', '', '| subsystem | tool | description |', '| --- | --- | --- |'];
  for (const s of specs) {
    const rel = path.relative(projectRoot, s.file).replace(/^dist\//, '').replace(/\.js$/, '.ts');
    const example = path.join(dir, 'examples', `${s.name}.txt`);
    const lines = [
      `# ${s.name}`, '', s.description + '.', '',
      `Source: [\`${rel}\`](../../${rel}) — run as \`sudo ${rel} [options]${s.positional ? ' ' + s.positional : ''}\` or \`bpfkit ${s.name}\`.`, '',
      '## Ports', '', ...portRows(s), '',
      '## Probes', '', 'bpfkit loads the first kind in this order that the running kernel supports (`bpfkit list` says which).', '',
      ...probeRows(s), '',
    ];
    for (const sub of s.substitutes ?? []) {
      lines.push('Where this kernel cannot run those, a substitute stands in, and the tool says so in one line on stderr',
        `("${s.name}: ${sub.says}: ..."): ${sub.differs}.`, '');
    }
    lines.push('## Options', '', ...optionRows(s), '');
    const kinds = outputKinds(s).map(k => `[\`${k}\`](../json.md#${k})`);
    lines.push('## JSON', '', `\`--json\` prints ${kinds.join(' or ')} records, one per line (see [docs/json.md](../json.md)).`, '');
    if (s.examples?.length) {
      lines.push('## Examples', '', '```');
      for (const [cmd, what] of s.examples) lines.push(`${cmd.padEnd(32)} # ${what}`);
      lines.push('```', '');
    }
    if (fs.existsSync(example)) {
      lines.push('## Example output (captured on Linux 6.18)', '', '```', fs.readFileSync(example, 'utf8').trimEnd(), '```', '');
    }
    fs.writeFileSync(path.join(dir, `${s.name}.md`), lines.join('\n'));
    index.push(`| ${s.subsystem} | [${s.name}](${s.name}.md) | ${s.description} |`);
  }
  fs.writeFileSync(path.join(dir, 'README.md'), index.join('\n') + '\n');
  writeKindsTable(specs);
  writeReadmeTable(specs);
  process.stdout.write(`wrote ${specs.length} tool pages to docs/tools/\n`);
}

/**
 * README.md's tool table: every tool, by subsystem; a row's "what it shows" as written there is kept,
 * a new tool's is its description.
 */
function writeReadmeTable(specs: ToolSpec<any>[]): void {
  const file = path.join(projectRoot, 'README.md');
  const text = fs.readFileSync(file, 'utf8');
  const head = '| subsystem | tool | what it shows |';
  const tableStart = text.indexOf(head);
  if (tableStart < 0) return;
  const tableEnd = text.indexOf('\n\n', tableStart);
  const written = new Map([...text.slice(tableStart, tableEnd).matchAll(/^\| \w+ \| \[(\w+)\]\([^)]*\) \| (.*) \|$/gm)].map(m => [m[1]!, m[2]!]));
  const rows = [...specs].sort((a, b) => a.subsystem.localeCompare(b.subsystem) || a.name.localeCompare(b.name))
    .map(s => `| ${s.subsystem} | [${s.name}](docs/tools/${s.name}.md) | ${written.get(s.name) ?? s.description} |`);
  fs.writeFileSync(file, text.slice(0, tableStart) + [head, '| --- | --- | --- |', ...rows].join('\n') + text.slice(tableEnd));
}

/** docs/json.md's "Tools by kind" table, from each tool's declared output kinds. */
function writeKindsTable(specs: ToolSpec<any>[]): void {
  const file = path.join(projectRoot, 'docs', 'json.md');
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf('## Tools by kind');
  if (start < 0) return;
  const tableStart = text.indexOf('| kind | tools |', start);
  const tableEnd = text.indexOf('\n\n', tableStart);
  const kinds = ['event', 'histogram', 'counts', 'top', 'stacks'];
  const rows = kinds.map(k => `| \`${k}\` | ${specs.filter(s => outputKinds(s).includes(k)).map(s => s.name).sort().join(', ')} |`);
  const table = ['| kind | tools |', '| --- | --- |', ...rows].join('\n');
  fs.writeFileSync(file, text.slice(0, tableStart) + table + text.slice(tableEnd));
}

// `npm run docs` runs this file itself (bpfkit docs, hidden from the help, does the same)
if (/[\\/]bin[\\/]docs\.ts$/.test(process.argv[1] ?? '')) {
  const { loadSpecs } = await import('../lib/cli/catalogue.js');
  await writeToolDocs(await loadSpecs());
}
