// biopattern on the real kernel, on a loop device of its own (no other I/O reaches it, and its sectors
// are the offsets read): N direct reads at consecutive offsets are N-1 sequential completions after the
// first (which only sets the position), N reads at random offsets N-1 random ones; a mix gives the
// percentages computed in advance; -T, --json, interval/count; bad input; and the same line as
// libbpf-tools' biopattern on the same workload.
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool, sleep, startReference, startTool } from './helpers.js';
import {
  bannerShown, diskWorkspace, directIo, loopDevice, randomReads, type DiskWorkspace, type LoopDevice,
} from './disk-workload.js';

// Each test may repeat its run (see tracedIo) and the machine is shared: generous, not tight.
jest.setTimeout(240_000);

const N = 40;
const BS = 65536;
let ws: DiskWorkspace;
let loop: LoopDevice;
let reader: string;

beforeAll(() => {
  ws = diskWorkspace('biopattern', 1);
  loop = loopDevice(ws.dir, 64);
  reader = ws.randomReader();
});
afterAll(() => {
  loop?.detach();
  ws?.remove();
});

interface Row { disk: string; rnd: number; seq: number; count: number; kbytes: number }

/** The loop device's rows (DISK %RND %SEQ COUNT KBYTES, after TIME with -T). */
function rows(out: string): Row[] {
  return out.split('\n').map(l => l.trim().split(/\s+/)).filter(f => f.includes(loop.name)).map(f => {
    const g = f.slice(f.indexOf(loop.name));
    return { disk: g[0], rnd: +g[1], seq: +g[2], count: +g[3], kbytes: +g[4] };
  });
}
const sum = (rs: Row[]) => rs.reduce((a, r) => a + r.count, 0);

const sequential = () => directIo(loop.path, { bs: BS, count: N, read: true });
const random = () => randomReads(reader, loop.path, BS, N);

/** Runs the tools side by side around `work`; a run where any saw fewer than `want` completions is repeated (up to 3). */
async function around(tools: { ref?: boolean; args: string[] }[], work: () => void, want: number) {
  let outs: string[] = [];
  for (let attempt = 0; attempt < 3 && (outs.length === 0 || outs.some(o => sum(rows(o)) < want)); attempt++) {
    const running = tools.map(t => (t.ref ? startReference('biopattern', t.args) : startTool('biopattern', t.args)));
    try {
      await Promise.all(running.map(r => bannerShown(r)));
      work();
      await sleep(200);
    } finally {
      await Promise.all(running.map(r => r.stop('SIGINT')));
    }
    outs = running.map(r => r.stdout());
    for (const r of running) expect(await r.exited).toBe(0);
  }
  return outs;
}

describe('biopattern', () => {
  test('N consecutive direct reads: N-1 sequential completions, 100 %SEQ, (N-1) x 64 KBYTES', async () => {
    const [out] = await around([{ args: ['-d', loop.name] }], sequential, N - 1);
    expect(out.split('\n').slice(0, 2)).toEqual([
      'Tracing block device I/O requested seeks... Hit Ctrl-C to end.',
      'DISK     %RND  %SEQ    COUNT     KBYTES',
    ]);
    expect(rows(out)).toEqual([{ disk: loop.name, rnd: 0, seq: 100, count: N - 1, kbytes: (N - 1) * 64 }]);
  });

  test('N reads at random offsets: N-1 random completions, 100 %RND', async () => {
    const [out] = await around([{ args: ['-d', loop.name] }], random, N - 1);
    expect(rows(out)).toEqual([{ disk: loop.name, rnd: 100, seq: 0, count: N - 1, kbytes: (N - 1) * 64 }]);
  });

  test('-T: N random then N sequential reads: 2N-1 completions, N random (the first sequential one is a seek)', async () => {
    const [out] = await around([{ args: ['-T', '-d', loop.name] }], () => {
      random();
      sequential();
    }, 2 * N - 1);
    expect(out.split('\n')[1]).toBe('TIME      DISK     %RND  %SEQ    COUNT     KBYTES');
    expect(out).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${loop.name} `, 'm'));
    const total = 2 * N - 1;
    expect(rows(out)).toEqual([{ disk: loop.name, rnd: Math.floor((N * 100) / total), seq: Math.floor(((N - 1) * 100) / total), count: total, kbytes: total * 64 }]);
  });

  test('--json: counts records with a row per disk (docs/json.md)', async () => {
    let lines: string[] = [];
    for (let attempt = 0; attempt < 3 && !lines.some(l => l.includes(`"count":${N - 1}`)); attempt++) {
      const t = startTool('biopattern', ['--json', '-d', loop.name]);
      await bannerShown(t);
      sequential();
      await sleep(200);
      await t.stop('SIGINT');
      lines = t.stdout().trim().split('\n').filter(Boolean);
    }
    const records = lines.map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records.at(-1)).toMatchObject({ tool: 'biopattern', kind: 'counts',
      rows: [{ disk: loop.name, random_percent: 0, sequential_percent: 100, count: N - 1, random: 0, sequential: N - 1, kbytes: (N - 1) * 64 }] });
  });

  test('interval and count: "1 2" prints the header once and exits by itself', () => {
    const r = runTool('biopattern', ['1', '2'], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^DISK +%RND/gm)?.length).toBe(1);
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('biopattern', [['-d', 'nosuchdisk'], ['-d', 'vda1x'], ['abc'], ['1', 'x'], ['--nosuch']]);
  });

  test('conformance: the same line as libbpf-tools biopattern, side by side on the same workload', async () => {
    const outs = await around([{ args: ['-d', loop.name] }, { ref: true, args: ['-d', loop.name] }], () => {
      random();
      sequential();
      random();
    }, 3 * N - 1);
    expect(rows(outs[0])).toEqual(rows(outs[1]));
    expect(sum(rows(outs[0]))).toBe(3 * N - 1);
  });
});
