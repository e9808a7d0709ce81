// iosched on the real kernel: loop devices set to bfq and kyber (those of the two the kernel has; no
// other disk uses them) and mq-deadline: N direct reads on each are exactly N requests in the bfq
// and kyber sections and at least N in mq-deadline's (vda may use it too); -d keeps one disk;
// --json; bad input.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool, withToolSpec } from './helpers.js';
import { histRows, histSection, loopDevice, tracedIo, type LoopDevice } from './disk-workload.js';

jest.setTimeout(240_000);

const N = 50;
let dir: string;
const disks: Record<string, LoopDevice> = {};
/** The schedulers tested: those the kernel offers of bfq, kyber and mq-deadline (a kernel may lack bfq). */
let schedulers: string[];
/** Those only the test's loop devices use, whose sections count exactly the test's reads. */
let ownSchedulers: string[];
/** One of them, for the tests of a single disk. */
let own: string;

/** The schedulers a disk may be given, and the one it has ("none [mq-deadline] kyber"). */
function schedulersOf(disk: string): { offered: string[]; current?: string } {
  const text = fs.readFileSync(`/sys/block/${disk}/queue/scheduler`, 'utf8').trim();
  return { offered: text.replace(/[[\]]/g, '').split(/\s+/), current: /\[(.+?)\]/.exec(text)?.[1] };
}

beforeAll(() => {
  dir = fs.mkdtempSync('/var/tmp/bpfkit-iosched-');
  const probe = loopDevice(dir, 16);
  const { offered } = schedulersOf(probe.name);
  schedulers = ['bfq', 'kyber', 'mq-deadline'].filter(s => offered.includes(s));
  for (const s of schedulers) {
    const d = s === schedulers[0] ? probe : loopDevice(dir, 16);
    fs.writeFileSync(`/sys/block/${d.name}/queue/scheduler`, s);
    disks[s] = d;
  }
  const ours = new Set(Object.values(disks).map(d => d.name));
  const inUse = fs.readdirSync('/sys/block').filter(b => !ours.has(b) && fs.existsSync(`/sys/block/${b}/queue/scheduler`))
    .map(b => schedulersOf(b).current);
  ownSchedulers = schedulers.filter(s => s !== 'mq-deadline' && !inUse.includes(s));
  expect(ownSchedulers.length).toBeGreaterThan(0); // the kernel has bfq or kyber
  own = ownSchedulers[0];
});
afterAll(() => {
  for (const d of Object.values(disks)) d.detach();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** N direct 4 KiB reads of the disk: each one request, queued in its scheduler. */
function reads(d: LoopDevice, count = N): number {
  const r = spawnSync('dd', [`if=${d.path}`, 'of=/dev/null', 'bs=4096', `count=${count}`, 'iflag=direct'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd: ${r.stderr}`);
  return r.pid!;
}

const total = (text: string | undefined) => histRows(text ?? '').reduce((a, r) => a + r.count, 0);
const section = (out: string, s: string) => histSection(out, 'scheduler', s);

describe('iosched', () => {
  test('N reads on a disk per scheduler (bfq, kyber, mq-deadline: those the kernel has): N in each one\'s section', async () => {
    const work = () => {
      for (const s of schedulers) reads(disks[s]);
      return 0;
    };
    const { out, code } = await tracedIo('iosched', [], work, r => ownSchedulers.every(s => total(section(r.out, s)) >= N));
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('Tracing block I/O schedulers. Hit Ctrl-C to end.');
    expect(section(out, own)!.split('\n')[0]).toBe('     usecs               : count     distribution');
    expect(Object.fromEntries(ownSchedulers.map(s => [s, total(section(out, s))]))).toEqual(Object.fromEntries(ownSchedulers.map(s => [s, N])));
    if (schedulers.includes('mq-deadline')) expect(total(section(out, 'mq-deadline'))).toBeGreaterThanOrEqual(N);
  });

  test('-d DISK: only that disk\'s requests, under its scheduler', async () => {
    const other = schedulers.find(s => s !== own)!; // another disk's reads, which -d leaves out
    const work = () => {
      reads(disks[other]);
      return reads(disks[own]);
    };
    const { out } = await tracedIo('iosched', ['-d', disks[own].name], work, r => total(section(r.out, own)) >= N);
    expect([...out.matchAll(/^scheduler = (.*)$/gm)].map(m => m[1])).toEqual([own]);
    expect(total(section(out, own))).toBe(N);
  });

  test('--json: histogram records sectioned by scheduler (docs/json.md)', async () => {
    const { out, err } = await tracedIo('iosched', ['--json', '-d', disks[own].name], () => reads(disks[own], 10),
      r => r.out.includes(`"key":"${own}","total":10`));
    expect(err).toContain('Hit Ctrl-C');
    const records = out.trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records[0]).toMatchObject({ tool: 'iosched', kind: 'histogram', val_type: 'usecs', section_by: 'scheduler', sections: [{ key: own, total: 10 }] });
  });

  test('-T 1 2: two timestamped histograms, then it exits by itself', () => {
    const r = runTool('iosched', ['-T', '1', '2'], { timeoutMs: 60000 });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^\n\d\d:\d\d:\d\d$/gm)?.length).toBe(2);
  });

  test('the tp_btf twins (taken where the kernel has module BTF) read the scheduler\'s name too', () => {
    // each of N reads is inserted and issued once; a run the kernel skipped tracepoints in is repeated (see tracedIo)
    const r = withToolSpec('iosched', `
      const { spawnSync } = await import('node:child_process');
      const raw = [...spec.program.matchAll(/BTF_TRACEPOINT_PROBE\\(\\w+, (\\w+),/g)].map(m => m[1] + '_raw');
      const bpf = BPF.load({ text: spec.program, name: 'iosched', disable: raw });
      bpf.attachAll();
      let reads = -1;
      for (let attempt = 0; attempt < 3 && reads < ${N}; attempt++) {
        spawnSync('dd', ['if=${disks[own].path}', 'of=/dev/null', 'bs=4096', 'count=${N}', 'iflag=direct']);
        const s = bpf.histogram('dist').read(true).sections.find(s => s.key === '${own}');
        reads = s ? s.slots.reduce((a, b) => a + b, 0) : -1;
      }
      const sections = [...bpf.programs.values()].filter(p => p.loaded).map(p => p.section).sort();
      bpf.close();
      console.log(JSON.stringify({ sections, reads }));
    `);
    expect(r).toEqual({ sections: ['tp_btf/block_rq_insert', 'tp_btf/block_rq_issue'], reads: N });
  });

  test('bad input: one line, exit 2', () => {
    expectUsageErrors('iosched', [['-d', 'nosuchdisk'], ['0'], ['1', 'x'], ['1', '2', '3'], ['--nosuch']]);
  });
});
