// The catalogue smoke test: every tool's declared basic invocations (BCC's usual ones: `tool 1 1` for
// interval tools, plain `tool` for snoop tools), run while a workload goes on. Tools that end by
// themselves exit 0 (a run still going after 60 s is killed, so code 0 means it ended by itself,
// however slow this machine is); tools that trace until Ctrl-C are still running 3 s after their first output and exit
// 0 on SIGINT. Their --json variants are checked by json.test.ts.
import { invocations, refusal, runUnderWorkload, specs, type Run } from './catalogue-runs.js';

const list = invocations();
let runs: Run[] = [];

beforeAll(async () => {
  runs = await runUnderWorkload(list);
}, 600_000);

test('every tool declares at least one basic invocation', () => {
  // (BPFKIT_TOOLS=a,b: a helper's own few)
  expect(specs.length).toBeGreaterThanOrEqual(process.env.BPFKIT_TOOLS ? 1 : 9);
  expect(specs.filter(s => s.invocations.length === 0).map(s => s.name)).toEqual([]);
});

test.each(list.map((inv, i) => [`${inv.spec.name} ${inv.args.join(' ')}`.trim(), inv.ends, i] as const))('%s (ends %s)', (_, ends, i) => {
  const r = runs[i]!;
  const what = { run: `${r.tool} ${r.args.join(' ')}`, stderr: r.code === null ? r.stderr : r.stderr.split('\n').slice(0, 3).join('\n') };
  if (list[i]!.refuses) {
    // what it needs is absent on this machine, and no substitute exists: one line naming it, exit 1
    expect({ ...what, code: r.code, oneLine: refusal(r.tool).test(r.stderr) }).toEqual({ ...what, code: 1, oneLine: true });
    return;
  }
  if (ends === 'itself') {
    expect({ ...what, code: r.code }).toEqual({ ...what, code: 0 });
  } else {
    expect({ ...what, stillRunning: r.stillRunning, code: r.code }).toEqual({ ...what, stillRunning: true, code: 0 });
  }
  expect(r.stdout.length).toBeGreaterThan(0); // a header, rows, or events
  expect(r.stderr).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
});
