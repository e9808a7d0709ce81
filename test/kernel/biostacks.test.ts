// biostacks on the real kernel: N direct writes by a dd of a name of its own are N I/Os under its
// PID, on vda, with the kernel stack that made them (ext4's direct-I/O write path down to
// blk_account_io_start, where block_io_start fires); reads show the read path; -d on a loop device,
// -m, --json, [duration]; bad input. (libbpf-tools' biostacks cannot run here: it loads fentry.)
import { jest } from '@jest/globals';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool } from './helpers.js';
import { diskWorkspace, directIo, histRows, loopDevice, tracedIo, type DiskWorkspace, type LoopDevice } from './disk-workload.js';

// Each test may repeat its run (see tracedIo) and the machine is shared: generous, not tight.
jest.setTimeout(240_000);

const N = 50;
let ws: DiskWorkspace;
let loop: LoopDevice;
let dd: string;

beforeAll(() => {
  ws = diskWorkspace('biostacks');
  loop = loopDevice(ws.dir, 16);
  dd = ws.dd('ddbiostacks');
});
afterAll(() => {
  loop?.detach();
  ws?.remove();
});

interface Section { comm: string; pid: number; disk: string; frames: string[]; hist: string }

/** libbpf-tools' layout: "comm pid disk", the frames one a line, the histogram, a blank line. */
function sections(out: string): Section[] {
  return out.split('\n\n').map(b => b.replace(/^Tracing[^\n]*\n/, '')).filter(b => /^\S+ +\d+ +\S+ *\n/.test(b)).map(b => {
    const lines = b.split('\n');
    const [comm, pid, disk] = lines[0].trim().split(/\s+/);
    const histAt = lines.findIndex(l => /^ +(u|m)secs +: count/.test(l));
    return { comm, pid: +pid, disk, frames: lines.slice(1, histAt), hist: lines.slice(histAt).join('\n') };
  });
}
const count = (ss: Section[]) => ss.reduce((a, s) => a + histRows(s.hist).reduce((b, r) => b + r.count, 0), 0);

describe('biostacks', () => {
  test('N direct writes: N I/Os under the dd\'s PID on vda, with ext4\'s direct-write stack', async () => {
    const r = await tracedIo('biostacks', [], () => directIo(ws.file, { bs: 4096, count: N, dd }),
      x => count(sections(x.out).filter(s => s.pid === x.pid)) >= N);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('Tracing block I/O with init stacks. Hit Ctrl-C to end.');
    const mine = sections(r.out).filter(s => s.pid === r.pid);
    expect(count(mine)).toBe(N);
    expect(mine.every(s => s.comm === 'ddbiostacks' && s.disk === 'vda')).toBe(true);
    const main = mine.sort((a, b) => count([b]) - count([a]))[0];
    expect(main.frames[0]).toBe('blk_account_io_start'); // the tracepoint's caller: the probe's own frames are dropped
    expect(main.frames).toEqual(expect.arrayContaining(['blk_mq_submit_bio', 'iomap_dio_rw', 'ext4_file_write_iter', 'vfs_write']));
    expect(main.hist.split('\n')[0]).toBe('     usecs               : count     distribution');
  });

  test('-m -d LOOP: direct reads of a loop device, its read stack, in msecs, nothing from other disks', async () => {
    const r = await tracedIo('biostacks', ['-m', '-d', loop.name], () => directIo(loop.path, { bs: 4096, count: N, read: true, dd }),
      x => count(sections(x.out).filter(s => s.pid === x.pid)) >= N);
    const all = sections(r.out);
    expect(all.filter(s => s.disk !== loop.name)).toEqual([]);
    const mine = all.filter(s => s.pid === r.pid);
    expect(count(mine)).toBe(N);
    expect(mine[0].frames).toEqual(expect.arrayContaining(['blk_mq_submit_bio', 'blkdev_read_iter', 'vfs_read']));
    expect(mine[0].hist.split('\n')[0]).toBe('     msecs               : count     distribution');
  });

  test('--json: one stacks record, each stack with its disk and latency buckets (docs/json.md)', async () => {
    const r = await tracedIo('biostacks', ['--json'], () => directIo(ws.file, { bs: 4096, count: N, dd }),
      x => x.out.includes(`"comm":"ddbiostacks"`));
    const records = r.out.trim().split('\n').map(l => JSON.parse(l));
    expect(records.length).toBe(1);
    expect(validateRecord(records[0])).toEqual([]);
    expect(records[0]).toMatchObject({ tool: 'biostacks', kind: 'stacks', value_field: 'count', missed_stacks: 0 });
    const mine = records[0].stacks.filter((s: { pid: number }) => s.pid === r.pid);
    expect(mine.reduce((a: number, s: { count: number }) => a + s.count, 0)).toBe(N);
    expect(mine[0]).toMatchObject({ comm: 'ddbiostacks', disk: 'vda', val_type: 'usecs' });
    expect(mine[0].kernel_stack).toEqual(expect.arrayContaining(['ext4_file_write_iter']));
    expect(mine[0].buckets.reduce((a: number, b: { count: number }) => a + b.count, 0)).toBe(mine[0].count);
  });

  test('a duration: "biostacks 1" traces one second, prints, exits 0', () => {
    const r = runTool('biostacks', ['1'], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('Tracing block I/O with init stacks. Hit Ctrl-C to end.');
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('biostacks', [['-d', 'nosuchdisk'], ['0'], ['x'], ['1', '2'], ['--nosuch']]);
  });
});
