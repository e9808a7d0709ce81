// -h/--help as BCC's tools print it (Python's argparse layout: usage line, description, positional
// arguments, options, examples), from the tool's own metadata. Rendered here rather than by yargs: loading
// yargs costs ~100 ms, two thirds of a tool's whole start.
import type { Options } from 'yargs';

export interface HelpSpec {
  name: string;
  description: string;
  options: Record<string, Options>;
  positional?: string;
  examples?: [string, string][];
}

const positionalHelp: Record<string, string> = {
  interval: 'output interval, in seconds',
  count: 'number of outputs',
  duration: 'total duration of trace, in seconds',
  pattern: 'search expression for events',
  functions: 'function(s) to trace',
  subnets: 'comma separated list of subnets',
};

/** An option's long name as BCC spells it: printUid -> print-uid. */
export const kebabCase = (name: string) => name.replace(/[A-Z]/g, c => '-' + c.toLowerCase());

/** An option's aliases as a list (yargs takes one name or several). */
export const optionAliases = (o: Options): string[] => (o.alias === undefined ? [] : typeof o.alias === 'string' ? [o.alias] : [...o.alias]);

/** How an option is written: "-p PID, --pid PID" (argparse's layout); the short flags first. */
function invocation(name: string, o: Options): { usage: string; full: string } {
  // argparse writes an option with choices as {a,b,c}
  const metavar = o.type === 'boolean' ? '' : o.choices ? ` {${[o.choices].flat().join(',')}}` : ` ${kebabCase(name).toUpperCase().replace(/-/g, '_')}`;
  const aliases = optionAliases(o);
  const flags = [...aliases.filter(a => a.length === 1).map(a => `-${a}`), `--${kebabCase(name)}`, ...aliases.filter(a => a.length > 1).map(a => `--${a}`)];
  return { usage: `[${flags[0]}${metavar}]`, full: flags.map(f => f + metavar).join(', ') };
}

/** Words (or given units, kept whole) wrapped to `width` columns, the lines after the first indented by `indent`. */
function wrap(text: string | string[], indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of typeof text === 'string' ? text.split(/\s+/).filter(Boolean) : text) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n' + ' '.repeat(indent));
}

export function formatHelp(spec: HelpSpec, common: Record<string, Options>, width = 80): string {
  const options = [['help', { alias: 'h', type: 'boolean', describe: 'show this help message and exit' } as Options] as const,
    ...Object.entries(spec.options), ...Object.entries(common)].filter(([, o]) => !o.hidden);
  const positionals = spec.positional?.match(/\w+/g) ?? [];
  const rows = options.map(([name, o]) => {
    const { usage, full } = invocation(name, o);
    const dflt = o.type !== 'boolean' && o.default !== undefined ? ` (default: ${o.default})` : '';
    return { usage, full, help: `${o.describe ?? ''}${dflt}` };
  });
  // argparse puts help text at column 24 at most; a longer invocation gets its help on the next line
  const column = Math.min(24, Math.max(...rows.map(r => r.full.length), ...positionals.map(p => p.length)) + 4);
  const row = (left: string, help: string) => {
    const head = `  ${left}`;
    if (!help) return head;
    const body = wrap(help, column, width);
    return head.length + 2 <= column ? head.padEnd(column) + body : `${head}\n${' '.repeat(column)}${body}`;
  };

  const usagePrefix = `usage: ${spec.name} `;
  const usage = usagePrefix + wrap([...rows.map(r => r.usage), ...(spec.positional?.split(/\s+/).filter(Boolean) ?? [])], usagePrefix.length, width);
  const parts = [usage, '', spec.description];
  if (positionals.length) parts.push('', 'positional arguments:', ...positionals.map(p => row(p, positionalHelp[p] ?? '')));
  parts.push('', 'options:', ...rows.map(r => row(r.full, r.help)));
  if (spec.examples?.length) {
    const w = Math.max(...spec.examples.map(([cmd]) => cmd.length));
    parts.push('', 'examples:', ...spec.examples.map(([cmd, what]) => `    ${cmd.padEnd(w)}  # ${what}`));
  }
  return parts.join('\n') + '\n';
}
