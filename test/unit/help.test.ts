// -h/--help in BCC's (argparse's) layout, from a tool's metadata.
import { formatHelp } from '../../lib/cli/help.js';

const spec = {
  name: 'demo',
  description: 'Summarize demo events as a histogram',
  positional: '[interval] [count]',
  options: {
    timestamp: { alias: 'T', type: 'boolean' as const, describe: 'include timestamp on output' },
    pid: { alias: 'p', type: 'string' as const, describe: 'trace this PID only' },
    maxArgs: { type: 'string' as const, default: 20, describe: 'maximum number of arguments parsed and displayed' },
    flagFilter: { alias: ['f', 'flag_filter'], type: 'string' as const, describe: 'filter on flags argument' },
    secret: { type: 'boolean' as const, hidden: true, describe: 'not shown' },
  },
  examples: [['demo', 'all events'], ['demo -p 181 1 5', 'PID 181, five 1 s summaries']] as [string, string][],
};
const common = { json: { type: 'boolean' as const, describe: 'print newline-delimited JSON instead of text' } };

test('usage, description, positionals, options with metavars and defaults, examples', () => {
  expect(formatHelp(spec, common)).toBe(`usage: demo [-h] [-T] [-p PID] [--max-args MAX_ARGS] [-f FLAG_FILTER] [--json]
            [interval] [count]

Summarize demo events as a histogram

positional arguments:
  interval              output interval, in seconds
  count                 number of outputs

options:
  -h, --help            show this help message and exit
  -T, --timestamp       include timestamp on output
  -p PID, --pid PID     trace this PID only
  --max-args MAX_ARGS   maximum number of arguments parsed and displayed
                        (default: 20)
  -f FLAG_FILTER, --flag-filter FLAG_FILTER, --flag_filter FLAG_FILTER
                        filter on flags argument
  --json                print newline-delimited JSON instead of text

examples:
    demo             # all events
    demo -p 181 1 5  # PID 181, five 1 s summaries
`);
});

test('a narrow terminal wraps the usage between options, never inside one', () => {
  const lines = formatHelp(spec, common, 40).split('\n\n')[0].split('\n');
  expect(lines.every(l => l.length <= 40)).toBe(true);
  for (const l of lines) expect(l.replace(/^(usage: demo)? +/, '')).toMatch(/^(\[[^\]]+\] ?)+$/);
});
