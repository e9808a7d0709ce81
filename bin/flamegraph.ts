// bpfkit flamegraph [folded-file] [-o out.svg] [--title T] [--countname N] [--colors cpu|off-cpu] [--width W]:
// folded stacks (a file, or standard input) -> an interactive SVG flame graph (lib/output/flamegraph).
import fs from 'node:fs';
import yargsParser from 'yargs-parser';
import { parseFolded, renderFlameGraph } from '../lib/output/flamegraph.js';

export const flamegraphUsage = `usage: bpfkit flamegraph [-o FILE.svg] [--title TITLE] [--countname NAME] [--colors cpu|off-cpu]
                        [--width PIXELS] [folded-file]

Folded stacks ("frame;frame;frame count" lines, e.g. from profile -f) from the file or standard input
as an interactive SVG: click a frame to zoom, Search (or Ctrl-F) to highlight a regular expression.
`;

function usageError(msg: string): never {
  process.stderr.write(`bpfkit flamegraph: ${msg}\n`);
  process.exit(2);
}

export function flamegraphCommand(argv: string[]): void {
  const a = yargsParser(argv, { string: ['o', 'title', 'countname', 'colors', 'width'], boolean: ['h'], alias: { o: 'output', h: 'help' } });
  if (a.h) {
    process.stdout.write(flamegraphUsage);
    return;
  }
  const known = new Set(['_', 'o', 'output', 'title', 'countname', 'colors', 'width', 'h', 'help']);
  const unknown = Object.keys(a).filter(k => !known.has(k));
  if (unknown.length) usageError(`unknown option: ${unknown[0].length === 1 ? '-' : '--'}${unknown[0]}`);
  if (a._.length > 1) usageError(`one folded file at most (got ${a._.length})`);
  const palette = a.colors ?? 'cpu';
  if (palette !== 'cpu' && palette !== 'off-cpu') usageError(`--colors takes cpu or off-cpu, not '${palette}'`);
  const width = a.width === undefined ? 1200 : Number(a.width);
  if (!Number.isInteger(width) || width < 200) usageError(`--width takes a whole number of pixels, 200 or more (got '${a.width}')`);
  const input = a._.length ? String(a._[0]) : undefined;
  let text: string;
  try {
    text = fs.readFileSync(input ?? 0, 'utf8');
  } catch (e) {
    usageError(`cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const stacks = parseFolded(text);
  if (stacks.length === 0) {
    process.stderr.write(`bpfkit flamegraph: no folded stacks in ${input ?? 'standard input'} (lines like "a;b;c 12")\n`);
    process.exit(1);
  }
  const svg = renderFlameGraph(stacks, { title: a.title, countName: a.countname ?? (palette === 'off-cpu' ? 'us' : 'samples'), palette, width });
  if (a.o) fs.writeFileSync(a.o, svg);
  else process.stdout.write(svg);
}
