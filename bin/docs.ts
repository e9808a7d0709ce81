// `bpfkit docs`: docs/tools/<tool>.md from each tool's own metadata (description, options, examples)
// plus the example output captured on a real machine in docs/tools/examples/<tool>.txt.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/compile/index.js';
import { kebabCase, optionAliases, type ToolSpec } from '../lib/cli/index.js';

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
      '## Options', '', ...optionRows(s), '',
    ];
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
  process.stdout.write(`wrote ${specs.length} tool pages to docs/tools/\n`);
}

// `npm run docs` runs this file itself (bpfkit docs, hidden from the help, does the same)
if (/[\\/]bin[\\/]docs\.ts$/.test(process.argv[1] ?? '')) {
  const { loadSpecs } = await import('../lib/cli/catalogue.js');
  await writeToolDocs(await loadSpecs());
}
