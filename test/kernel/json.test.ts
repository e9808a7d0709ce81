// Every tool's --json output against the one schema (docs/json.md, lib/output/records.ts): each
// declared basic invocation is run with --json while a workload goes on (execs, exits, opens, disk
// writes, TCP sessions), and every line it prints must be a valid record of its tool, of a kind the
// tool declares (ToolSpec.output), with every declared kind seen. New tools are covered by declaring.
import { outputKinds } from '../../lib/cli/catalogue.js';
import { recordShape } from '../../lib/cli/index.js';
import { ownFields, validateRecord } from '../../lib/output/index.js';
import { invocations, refusal, runUnderWorkload, specs, type Run } from './catalogue-runs.js';

// a tool that cannot run here (smoke.test.ts checks its one line) prints no records
const list = invocations(['--json']);
let runs: Run[] = [];

beforeAll(async () => {
  runs = await runUnderWorkload(list);
}, 600_000);

const parsed = new Map<Run, { line: string; value: any; problems: string[] }[]>();

/** The parsed lines of a run's stdout, each with its problems ([] when valid). */
function records(r: Run) {
  if (!parsed.has(r)) parsed.set(r, parse(r));
  return parsed.get(r)!;
}

function parse(r: Run) {
  return r.stdout.split('\n').filter(Boolean).map(line => {
    let value: any;
    try {
      value = JSON.parse(line);
    } catch {
      return { line, value: undefined, problems: ['not JSON'] };
    }
    return { line, value, problems: validateRecord(value) };
  });
}

test.each(list.map((inv, i) => [`${inv.spec.name} ${inv.args.join(' ')}`, i] as const))('%s: valid records only', (_, i) => {
  const r = runs[i]!;
  const spec = list[i]!.spec;
  if (list[i]!.refuses) {
    expect({ run: r.args.join(' '), code: r.code, oneLine: refusal(r.tool).test(r.stderr), stdout: r.stdout })
      .toEqual({ run: r.args.join(' '), code: 1, oneLine: true, stdout: '' });
    return;
  }
  expect({ run: r.args.join(' '), code: r.code, ...(r.ends === 'ctrl-c' ? { stillRunning: r.stillRunning } : {}) })
    .toEqual({ run: r.args.join(' '), code: 0, ...(r.ends === 'ctrl-c' ? { stillRunning: true } : {}) });
  const recs = records(r);
  if (!list[i]!.quiet) expect(recs.length).toBeGreaterThan(0); // the workload gives every tool something to report
  const invalid = recs.filter(x => x.problems.length).slice(0, 3);
  expect(invalid).toEqual([]);
  for (const { value } of recs) {
    expect({ tool: value.tool, kindDeclared: outputKinds(spec).includes(value.kind) }).toEqual({ tool: spec.name, kindDeclared: true });
  }
});

test.each(specs.map(s => [s.name] as const))('%s: its invocations print every output kind it declares', name => {
  const spec = specs.find(s => s.name === name)!;
  const seen = new Set(list.flatMap((inv, i) => (inv.spec === spec ? records(runs[i]!).map(x => x.value?.kind) : [])));
  // a tool that refuses here, or may have nothing to report here, need not show every kind: none it does not declare
  const mayMiss = list.some(inv => inv.spec === spec && (inv.refuses || inv.quiet));
  if (mayMiss) expect([...seen].filter(k => !outputKinds(spec).includes(k))).toEqual([]);
  else expect([...seen].sort()).toEqual([...outputKinds(spec)].sort());
});

// ToolSpec.records: what bpfkit export checks a config against before it starts anything must be what the tool prints
const shaped = list.map((inv, i) => [inv, i] as const).filter(([inv]) => inv.spec.records && !inv.refuses);
test.each(shaped.map(([inv, i]) => [`${inv.spec.name} ${inv.args.join(' ')}`, i] as const))('%s: records have the fields the tool declares', async (_, i) => {
  const inv = list[i]!;
  const shape = await recordShape(inv.spec, inv.args);
  if (!shape) return; // these options' fields depend on the data: nothing declared
  const seen = records(runs[i]!).map(x => x.value).filter(v => v && typeof v === 'object');
  for (const v of seen) {
    const rows: Record<string, unknown>[] = v.kind === 'event' ? [v] : v.kind === 'counts' || v.kind === 'top' ? v.rows ?? [] : [];
    const fields = rows.map(r => ownFields(r).sort());
    if (v.kind === 'histogram') expect({ kind: v.kind, section_by: v.section_by }).toEqual({ kind: v.kind, section_by: shape.sectionBy });
    else expect({ kind: v.kind, fields: [...new Set(fields.map(f => f.join(',')))] }).toEqual({ kind: v.kind, fields: rows.length ? [[...shape.fields!].sort().join(',')] : [] });
  }
});
