// seeksize on the real kernel, on a loop device of its own (its sectors are the offsets read): N
// consecutive direct reads are N-1 seeks of 0 sectors; reads at random offsets (the reader prints
// them) give exactly the histogram computed from those offsets; the book's seeksize.bt under bpftrace
// counts the same; -c, --json; bad input.
import { spawn } from 'node:child_process';
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool, track } from './helpers.js';
import {
  diskWorkspace, directIo, histRows, histSection, loopDevice, randomReadBlocks, tracedIo, type DiskWorkspace, type LoopDevice,
} from './disk-workload.js';

// Each test may repeat its run (see tracedIo) and the machine is shared: generous, not tight.
jest.setTimeout(240_000);

const N = 60;
const BS = 65536;
const SECTORS = BS / 512;
let ws: DiskWorkspace;
let loop: LoopDevice;
let reader: string;
let ddSeq: string;

beforeAll(() => {
  ws = diskWorkspace('seeksize', 1);
  loop = loopDevice(ws.dir, 64);
  reader = ws.randomReader('rrseeksize');
  ddSeq = ws.dd('ddseeksize');
});
afterAll(() => {
  loop?.detach();
  ws?.remove();
});

/** BCC's log2 rows: the row (its low bound) a distance falls in. */
const rowLow = (v: number) => (v <= 1 ? 0 : 2 ** Math.floor(Math.log2(v)));

/** The expected {low: count} of a run of reads at these blocks (the first one only sets the position). */
function expected(blocks: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 1; i < blocks.length; i++) {
    const d = Math.abs(blocks[i] * SECTORS - (blocks[i - 1] + 1) * SECTORS);
    m.set(rowLow(d), (m.get(rowLow(d)) ?? 0) + 1);
  }
  return m;
}
const nonzero = (rows: { low: number; count: number }[]) => new Map(rows.filter(r => r.count > 0).map(r => [r.low, r.count]));
const total = (text: string) => histRows(text).reduce((a, r) => a + r.count, 0);

describe('seeksize', () => {
  test('N consecutive reads: N-1 seeks of 0 sectors, in the dd\'s section', async () => {
    const r = await tracedIo('seeksize', ['-d', loop.name], () => directIo(loop.path, { bs: BS, count: N, read: true, dd: ddSeq }),
      x => total(histSection(x.out, 'comm', 'ddseeksize') ?? '') >= N - 1);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('Tracing block I/O requested seeks... Hit Ctrl-C to end.');
    const s = histSection(r.out, 'comm', 'ddseeksize')!;
    expect(s.split('\n')[0]).toBe('     sectors             : count     distribution');
    expect(histRows(s)).toEqual([{ low: 0, high: 1, count: N - 1 }]);
  });

  test('reads at random offsets: exactly the histogram of their distances', async () => {
    let blocks: number[] = [];
    const r = await tracedIo('seeksize', ['-d', loop.name, '-c', 'rrseeksize'], () => {
      const run = randomReadBlocks(reader, loop.path, BS, N, 7);
      blocks = run.blocks;
      return run.pid;
    }, x => total(histSection(x.out, 'comm', 'rrseeksize') ?? '') >= N - 1);
    expect(blocks.length).toBe(N);
    expect(nonzero(histRows(histSection(r.out, 'comm', 'rrseeksize')!))).toEqual(expected(blocks));
    expect([...r.out.matchAll(/^comm = (.*)$/gm)].map(m => m[1])).toEqual(['rrseeksize']);
  });

  test('the book\'s seeksize.bt (bpftrace) counts the same seeks for the same reads', async () => {
    // bpftrace's log2 buckets are [0], [1], [2, 4), ... [64K, 128K): the BCC rows 0 -> 1, 2 -> 3, ...
    // The book's `(args->sector - $last) > 0 ? ...` is true for every unsigned difference but 0, so its
    // backward seeks land near 2^64 ([8E, 16E)): here the distance is taken the larger minus the smaller.
    const bt = `tracepoint:block:block_rq_issue /comm == "rrseeksize"/ {
      if (@last[args->dev]) { $last = @last[args->dev];
        $dist = args->sector > $last ? args->sector - $last : $last - args->sector;
        @sectors[args->comm] = hist($dist); }
      @last[args->dev] = args->sector + args->nr_sector; }
      END { clear(@last); }`;
    const bpftrace = track(spawn('bpftrace', ['-e', bt], { stdio: ['ignore', 'pipe', 'pipe'] }), 'bpftrace');
    await bpftrace.waitFor(/Attaching/, 120_000);
    let blocks: number[] = [];
    const r = await tracedIo('seeksize', ['-d', loop.name, '-c', 'rrseeksize'], () => {
      const run = randomReadBlocks(reader, loop.path, BS, N, 11);
      blocks = run.blocks;
      return run.pid;
    });
    await bpftrace.stop('SIGINT');
    const btOut = bpftrace.stdout();
    const unit: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
    const btRows = new Map<number, number>();
    for (const m of btOut.matchAll(/^\[(\d+)([KMG]?)(?:, [^)]*\))?\]? +(\d+) \|/gm)) {
      const low = rowLow(Number(m[1]) * unit[m[2]]);
      if (+m[3]) btRows.set(low, (btRows.get(low) ?? 0) + Number(m[3]));
    }
    expect(btRows).toEqual(expected(blocks));
    expect(nonzero(histRows(histSection(r.out, 'comm', 'rrseeksize')!))).toEqual(btRows);
  });

  test('--json: histograms sectioned by comm, in sectors (docs/json.md)', async () => {
    const r = await tracedIo('seeksize', ['--json', '-d', loop.name, '-c', 'ddseeksize'],
      () => directIo(loop.path, { bs: BS, count: N, read: true, dd: ddSeq }), x => x.out.includes(`"count":${N - 1}`));
    const records = r.out.trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records.at(-1)).toMatchObject({ tool: 'seeksize', kind: 'histogram', val_type: 'sectors', section_by: 'comm',
      sections: [{ key: 'ddseeksize', total: N - 1, buckets: [{ start: 0, end: 1, count: N - 1 }] }] });
  });

  test('interval and count: "-T 1 2" prints two timestamped summaries and exits 0', () => {
    const r = runTool('seeksize', ['-T', '1', '2'], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^\n\d\d:\d\d:\d\d$/gm)?.length).toBe(2);
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('seeksize', [['-c', 'a-name-longer-than-15'], ['-d', 'nosuchdisk'], ['x'], ['--nosuch']]);
  });
});
