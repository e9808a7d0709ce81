// bioerr on the real kernel: N direct reads past the end of a loop device's (cut) backing file fail
// with EIO and are N lines, at their sectors, error -5; a write to a loop device whose tmpfs is full
// fails with ENOSPC: one line, error -28; -d keeps one disk's errors; --json; bad input.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, startTool, waitUntil } from './helpers.js';
import { failingLoopDevice, fullLoopDevice, type FailingDisk, type LoopDevice } from './disk-workload.js';

jest.setTimeout(120_000);

let dir: string;
let failing: FailingDisk;
let other: FailingDisk;
let full: LoopDevice;

beforeAll(() => {
  dir = fs.mkdtempSync('/var/tmp/bpfkit-bioerr-');
  failing = failingLoopDevice(dir);
  other = failingLoopDevice(dir);
  full = fullLoopDevice(dir);
});
afterAll(() => {
  for (const d of [failing, other, full]) d?.detach();
  fs.rmSync(dir, { recursive: true, force: true });
});

const devOf = (d: LoopDevice) => fs.readFileSync(`/sys/class/block/${d.name}/dev`, 'utf8').trim().replace(':', ',');

/** One direct 4 KiB read of block `block`: fails (dd exits 1) past the backing file's end. */
function readBlock(d: LoopDevice, block: number): number {
  return spawnSync('dd', [`if=${d.path}`, 'of=/dev/null', 'bs=4096', 'count=1', `skip=${block}`, 'iflag=direct'], { encoding: 'utf8' }).status!;
}

/** The tool's lines for one device: { sector, bytes, flags, error }. */
function errorsOf(out: string, d: LoopDevice) {
  const re = new RegExp(`^\\d\\d:\\d\\d:\\d\\d device: ${devOf(d)}, sector: (-?\\d+), bytes: (\\d+), flags: (\\w+), error: (-\\d+)$`, 'gm');
  return [...out.matchAll(re)].map(m => ({ sector: +m[1], bytes: +m[2], flags: m[3], error: +m[4] }));
}

async function traced(args: string[], work: () => void, done: (out: string) => boolean) {
  const t = startTool('bioerr', args);
  try {
    await waitUntil(() => /Hit Ctrl-C to end/.test(t.stdout() + t.stderr()), 'the banner');
    work();
    await waitUntil(() => done(t.stdout()), 'the errors');
  } finally {
    await t.stop('SIGINT');
  }
  expect(await t.exited).toBe(0);
  return t.stdout();
}

describe('bioerr', () => {
  test('N failing reads (EIO) are N lines, at their sectors, error -5; an ENOSPC write is one line, error -28', async () => {
    const N = 5;
    const blocks = Array.from({ length: N }, (_, i) => failing.firstBadBlock + 10 * i);
    let noSpace = 0;
    const out = await traced([], () => {
      for (const b of blocks) expect(readBlock(failing, b)).toBe(1);
      // writes until the tmpfs under the loop device is full: dd stops at the first one that fails
      const r = spawnSync('dd', ['if=/dev/urandom', `of=${full.path}`, 'bs=4096', 'count=200', 'oflag=direct'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      noSpace = Number(/^(\d+)\+0 records out/m.exec(r.stderr)![1]);
    }, o => errorsOf(o, failing).length >= N && errorsOf(o, full).length >= 1);
    expect(out.split('\n')[0]).toBe('Tracing block I/O errors. Hit Ctrl-C to end.');
    const reads = errorsOf(out, failing).filter(e => blocks.includes(e.sector / 8));
    expect(reads).toEqual(blocks.map(b => ({ sector: b * 8, bytes: 4096, flags: expect.stringMatching(/^R/), error: -5 })));
    expect(errorsOf(out, full)).toEqual([{ sector: noSpace * 8, bytes: 4096, flags: expect.stringMatching(/^W/), error: -28 }]);
  });

  test('-d DISK: only that disk\'s errors', async () => {
    const out = await traced(['-d', other.name], () => {
      readBlock(failing, failing.firstBadBlock + 100);
      readBlock(other, other.firstBadBlock + 3);
    }, o => errorsOf(o, other).length >= 1);
    expect(errorsOf(out, other)).toEqual([{ sector: (other.firstBadBlock + 3) * 8, bytes: 4096, flags: expect.stringMatching(/^R/), error: -5 }]);
    expect(out.split('\n').filter(l => l.includes('device:')).length).toBe(1);
  });

  test('--json: event records (docs/json.md) with the disk and the errno\'s name', async () => {
    const out = await traced(['--json', '-d', failing.name], () => readBlock(failing, failing.firstBadBlock + 7), o => o.includes('\n'));
    const records = out.trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records[0]).toMatchObject({ tool: 'bioerr', kind: 'event', disk: failing.name, sector: (failing.firstBadBlock + 7) * 8, bytes: 4096, error: -5, errno: 'EIO' });
  });

  test('bad input: one line, exit 2', () => {
    expectUsageErrors('bioerr', [['-d', 'nosuchdisk'], ['extra'], ['--nosuch']]);
  });
});
