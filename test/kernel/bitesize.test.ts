// bitesize on the real kernel: N direct 64 KiB writes by a dd of a name of its own land, all N, in
// the 64 -> 127 Kbytes row of that name's histogram; -c, -d, -T, interval/count, --json; bad input;
// and the same histogram as libbpf-tools' bitesize on the same workload.
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool } from './helpers.js';
import { diskWorkspace, directIo, histRows, histSection, tracedIo, type DiskWorkspace } from './disk-workload.js';

// Each test may repeat its run (see tracedIo) and the machine is shared: generous, not tight.
jest.setTimeout(240_000);

const N = 40;
let ws: DiskWorkspace;
let dd64: string;

beforeAll(() => {
  ws = diskWorkspace('bitesize');
  dd64 = ws.dd('ddbitesize64');
});
afterAll(() => ws.remove());

const writes64k = () => directIo(ws.file, { bs: 65536, count: N, dd: dd64 });
const section = (out: string, comm: string) => histSection(out, 'Process Name', comm) ?? '';
const count = (text: string, low: number) => histRows(text).filter(r => r.low === low).reduce((a, r) => a + r.count, 0);
const total = (text: string) => histRows(text).reduce((a, r) => a + r.count, 0);
const all64k = (out: string) => count(section(out, 'ddbitesize64'), 64) >= N;

describe('bitesize', () => {
  test('N direct 64 KiB writes: exactly N in the 64 -> 127 Kbytes row of the dd\'s section', async () => {
    const { out, code } = await tracedIo('bitesize', [], writes64k, r => all64k(r.out));
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('Tracing block I/O... Hit Ctrl-C to end.');
    const ours = section(out, 'ddbitesize64');
    expect(ours.split('\n')[0]).toBe('     Kbytes              : count     distribution');
    expect(count(ours, 64)).toBe(N);
    expect(total(ours)).toBe(N); // nothing else: each write is one request of exactly 64 KiB
    expect(ours).toContain('        64 -> 127        : 40       |****************************************|');
  });

  test('-c COMM: only that process name (a prefix of it) is traced', async () => {
    const other = ws.dd('ddbitesizeX');
    const work = () => {
      directIo(ws.file, { bs: 4096, count: 10, dd: other });
      return writes64k();
    };
    const { out } = await tracedIo('bitesize', ['-c', 'ddbitesize6'], work, r => all64k(r.out));
    expect(count(section(out, 'ddbitesize64'), 64)).toBe(N);
    expect([...out.matchAll(/^Process Name = (.*)$/gm)].map(m => m[1])).toEqual(['ddbitesize64']);
  });

  test('-T -d vda 1 2: two timestamped histograms, then it exits by itself', () => {
    const r = runTool('bitesize', ['-T', '-d', 'vda', '1', '2'], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^\n\d\d:\d\d:\d\d$/gm)?.length).toBe(2);
  });

  test('--json: histogram records sectioned by comm (docs/json.md)', async () => {
    const { out, err } = await tracedIo('bitesize', ['--json', '-c', 'ddbitesize64'], writes64k,
      r => r.out.includes('"start":64,"end":127,"count":40'));
    expect(err).toContain('Hit Ctrl-C');
    const records = out.trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records[0]).toMatchObject({ tool: 'bitesize', kind: 'histogram', val_type: 'Kbytes', scale: 'log2', section_by: 'comm' });
    const s = records.flatMap(r => r.sections).find((x: { key: string }) => x.key === 'ddbitesize64');
    expect(s.total).toBe(N);
    expect(s.buckets.at(-1)).toEqual({ start: 64, end: 127, count: N });
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('bitesize', [['-c', 'a-name-longer-than-15'], ['-c', ''], ['-d', 'nosuchdisk'], ['abc'], ['1', '0'], ['--nosuch']]);
  });

  test('conformance: the same histogram for the dd as libbpf-tools bitesize -c', async () => {
    // Each tool is run on its own identical workload (-c keeps other I/O out of both).
    const ours = await tracedIo('bitesize', ['-c', 'ddbitesize64'], writes64k, r => all64k(r.out));
    const ref = await tracedIo('bitesize', ['-c', 'ddbitesize64'], writes64k, r => all64k(r.out), true);
    expect(ref.out).toContain('Process Name = ddbitesize64');
    // Row for row (libbpf-tools' header has one space less before "distribution" than BCC's, which we keep).
    expect(histRows(section(ours.out, 'ddbitesize64'))).toEqual(histRows(section(ref.out, 'ddbitesize64')));
    expect(count(section(ref.out, 'ddbitesize64'), 64)).toBe(N);
  });
});
