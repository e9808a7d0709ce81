import { jest } from '@jest/globals';
// biotop on the real kernel: a dd of a known size shows under its PID with the Kbytes it wrote; on a
// loop device of its own, I/O and Kbytes equal what /proc/diskstats counted for that disk; -p, -r,
// the screen clear (and -C), -s, --json, interval/count; bad input. (libbpf-tools' biotop cannot run
// here: it puts a kprobe on blk_mq_start_request, and this kernel has no kprobes.)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { CLEAR_SCREEN, validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool, sleep, startTool } from './helpers.js';
import { bannerShown, diskWorkspace, diskWrites, directIo, loopDevice, tracedIo, type DiskWorkspace, type LoopDevice } from './disk-workload.js';

// Each test may repeat its run (see tracedIo) and the machine is shared: generous, not tight.
jest.setTimeout(240_000);

const N = 160; // 64 KiB writes: 10240 Kbytes
let ws: DiskWorkspace;
let loop: LoopDevice;

beforeAll(() => {
  ws = diskWorkspace('biotop');
  loop = loopDevice(ws.dir, 64);
});
afterAll(() => {
  loop?.detach();
  ws?.remove();
});

interface Row { pid: number; comm: string; d: string; major: number; minor: number; disk: string; io: number; kbytes: number; avg: number }

function rows(out: string): Row[] {
  return out.split('\n').map(l => /^(\d+) +(.{16}) ([RW]) (\d+) +(\d+) +(\S+) +(\d+) +(\d+) +(\d+\.\d\d)$/.exec(l)).filter(m => m !== null)
    .map(m => ({ pid: +m![1], comm: m![2].trim(), d: m![3], major: +m![4], minor: +m![5], disk: m![6], io: +m![7], kbytes: +m![8], avg: +m![9] }));
}
/** I/O and Kbytes of one PID (or disk), summed over every refresh. */
function totals(rs: Row[]) {
  return { io: rs.reduce((a, r) => a + r.io, 0), kbytes: rs.reduce((a, r) => a + r.kbytes, 0) };
}

/** Writes and sectors written that /proc/diskstats has counted for a disk. */
describe('biotop', () => {
  test('a dd of 160 x 64 KiB direct writes: its PID, dd, W, vda, 160 I/O, 10240 Kbytes', async () => {
    const r = await tracedIo('biotop', ['-C'], () => directIo(ws.file, { bs: 65536, count: N }),
      x => totals(rows(x.out).filter(row => row.pid === x.pid)).io >= N);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('Tracing... Output every 1 secs. Hit Ctrl-C to end');
    expect(r.out).toMatch(/\n\n\d\d:\d\d:\d\d loadavg: \d+\.\d\d \d+\.\d\d \d+\.\d\d \d+\/\d+ \d+\n\nPID     COMM             D MAJ MIN DISK       I\/O  Kbytes  AVGms\n/);
    expect(lines.at(-2)).toBe('Detaching...');
    const mine = rows(r.out).filter(row => row.pid === r.pid);
    expect(mine.every(row => row.comm === 'dd' && row.d === 'W' && row.disk === 'vda' && row.major === 254)).toBe(true);
    expect(totals(mine)).toEqual({ io: N, kbytes: N * 64 }); // (the brief's bound is ±10 %: O_DIRECT makes it exact)
    expect(mine.every(row => row.avg > 0)).toBe(true);
  });

  test('on a loop device: I/O and Kbytes agree with /proc/diskstats for that disk', async () => {
    let before = diskWrites(loop.name);
    let after = before;
    const r = await tracedIo('biotop', ['-C'], () => {
      before = diskWrites(loop.name);
      const pid = directIo(loop.path, { bs: 16384, count: 300 });
      after = diskWrites(loop.name);
      return pid;
    }, x => totals(rows(x.out).filter(row => row.disk === loop.name)).io >= after.writes - before.writes);
    const onLoop = rows(r.out).filter(row => row.disk === loop.name);
    expect(onLoop.every(row => row.pid === r.pid)).toBe(true);
    // 300 writes reach the disk's queue; the block layer may merge adjacent ones into one request, which
    // biotop (at request issue/complete) and /proc/diskstats then both count once.
    expect(after.writes - before.writes + after.merged - before.merged).toBe(300);
    expect(totals(onLoop)).toEqual({ io: after.writes - before.writes, kbytes: ((after.sectors - before.sectors) * 512) / 1024 });
  });

  test('-p PID: only that process; -r 1: one row per refresh, the largest', async () => {
    // A dd held at a gate (a read on its stdin) until the tracer is attached: its PID exists before it writes.
    const gated = spawn('sh', ['-c', `read go; exec dd if=/dev/zero of=${ws.file} bs=65536 count=${N} oflag=direct conv=notrunc`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const done = new Promise(resolve => gated.on('exit', resolve));
    const t = startTool('biotop', ['-C', '-r', '1', '-p', String(gated.pid)]);
    try {
      await bannerShown(t);
      gated.stdin!.write('go\n');
      directIo(ws.file, { bs: 4096, count: 50 }); // another process's I/O, meanwhile
      await done;
      await sleep(200);
    } finally {
      await t.stop('SIGINT');
    }
    const shown = rows(t.stdout());
    expect(shown.filter(row => row.pid !== gated.pid)).toEqual([]);
    const screens = t.stdout().split('loadavg:').slice(1);
    expect(screens.filter(s => rows(s).length > 1)).toEqual([]);
    // (the kernel may skip a tracepoint now and then, see disk-workload.ts: at most a few missing)
    expect({ io: totals(shown).io, out: t.stdout() }).toEqual({ io: expect.any(Number), out: expect.any(String) });
    expect([totals(shown).io >= N - 10 && totals(shown).io <= N, t.stdout()]).toEqual([true, t.stdout()]);
  });

  test('clears the screen by default, as BCC (the escape sequence `clear` prints)', () => {
    const r = runTool('biotop', ['1', '1'], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Tracing... Output every 1 secs. Hit Ctrl-C to end\n' + CLEAR_SCREEN)).toBe(true);
    expect(r.stdout.endsWith('Detaching...\n')).toBe(true);
  });

  test('--json -s io: top records sorted by io, with the load averages (docs/json.md)', async () => {
    const r = await tracedIo('biotop', ['--json', '-s', 'io'], () => directIo(ws.file, { bs: 4096, count: N }),
      x => x.out.split('\n').filter(Boolean).map(l => JSON.parse(l)).flatMap(rec => rec.rows).filter(row => row.pid === x.pid)
        .reduce((a, row) => a + row.io, 0) >= N);
    expect(r.err).toContain('Hit Ctrl-C');
    const records = r.out.trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records[0]).toMatchObject({ tool: 'biotop', kind: 'top', sort_by: 'io', loadavg: [expect.any(Number), expect.any(Number), expect.any(Number)] });
    const mine = records.flatMap(rec => rec.rows).filter(row => row.pid === r.pid);
    expect(mine[0]).toMatchObject({ comm: 'dd', rw: 'W', disk: 'vda', major: 254, minor: 0 });
    expect(mine.reduce((a, row) => a + row.bytes, 0)).toBe(N * 4096);
    expect(Object.keys(mine[0])).toEqual(['pid', 'comm', 'rw', 'major', 'minor', 'disk', 'io', 'bytes', 'kbytes', 'total_us', 'avg_ms']);
  });

  test('interval and count: "-C 1 2" prints two screens, then Detaching... and exits 0', () => {
    const r = runTool('biotop', ['-C', '1', '2'], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^PID +COMM +D MAJ MIN DISK +I\/O +Kbytes +AVGms$/gm)?.length).toBe(2);
    expect(r.stdout).not.toContain(CLEAR_SCREEN);
  });

  test('bad input: exit 2, one line', () => {
    expectUsageErrors('biotop', [['-r', '0'], ['-r', 'x'], ['-p', '999999999'], ['-s', 'bogus'], ['0'], ['1', '-3'], ['--nosuch']]);
  });
});
