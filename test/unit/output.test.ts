import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  formatLog2Hist,
  formatLinearHist,
  formatLog2Sections,
  formatLinearSections,
  log2HistJson,
  linearHistJson,
  log2Slot,
  log2SlotRange,
  log2Add,
  histStats,
  stars,
  sprintf,
  formatFixed,
  strftimeHMS,
  strftime,
  timeZoneAbbreviation,
  timestampSeconds,
  toJson,
  OutputWriter,
  formatTable,
} from '../../lib/output/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUTPUT_INDEX = path.join(REPO, 'lib/output/index.ts');

/** The 17-row usecs example (anchors notes §2.1). */
function usecsSlots(): number[] {
  const s = new Array<number>(65).fill(0);
  const set: [number, number][] = [
    [7, 1], [8, 12], [9, 15], [10, 43], [11, 52], [12, 47], [13, 52], [14, 36], [15, 15], [16, 2], [17, 2],
  ];
  for (const [i, v] of set) s[i] = v;
  return s;
}

const USECS_ROWS = [
  '         0 -> 1          : 0        |                                        |',
  '         2 -> 3          : 0        |                                        |',
  '         4 -> 7          : 0        |                                        |',
  '         8 -> 15         : 0        |                                        |',
  '        16 -> 31         : 0        |                                        |',
  '        32 -> 63         : 0        |                                        |',
  '        64 -> 127        : 1        |                                        |',
  '       128 -> 255        : 12       |*********                               |',
  '       256 -> 511        : 15       |***********                             |',
  '       512 -> 1023       : 43       |*********************************       |',
  '      1024 -> 2047       : 52       |****************************************|',
  '      2048 -> 4095       : 47       |************************************    |',
  '      4096 -> 8191       : 52       |****************************************|',
  '      8192 -> 16383      : 36       |***************************             |',
  '     16384 -> 32767      : 15       |***********                             |',
  '     32768 -> 65535      : 2        |*                                       |',
  '     65536 -> 131071     : 2        |*                                       |',
];
const USECS_HEADER = '     usecs               : count     distribution';

const lines = (rows: string[]): string => rows.map((r) => r + '\n').join('');

describe('formatLog2Hist (BCC print_log2_hist)', () => {
  test('17-row usecs example is byte-identical', () => {
    expect(formatLog2Hist(usecsSlots(), 'usecs')).toBe(lines([USECS_HEADER, ...USECS_ROWS]));
  });

  test('accepts bigint slots and short arrays', () => {
    const big = usecsSlots().map((v) => BigInt(v));
    expect(formatLog2Hist(big, 'usecs')).toBe(lines([USECS_HEADER, ...USECS_ROWS]));
    expect(formatLog2Hist(usecsSlots().slice(0, 18), 'usecs')).toBe(lines([USECS_HEADER, ...USECS_ROWS]));
  });

  test('stripLeadingZero starts at the first non-zero row', () => {
    const out = formatLog2Hist(usecsSlots(), 'usecs', { stripLeadingZero: true });
    expect(out).toBe(lines([USECS_HEADER, ...USECS_ROWS.slice(6)]));
    expect(out.split('\n')[1]).toBe('        64 -> 127        : 1        |                                        |');
  });

  test('stripLeadingZero keeps zero rows after the first non-zero one', () => {
    expect(formatLog2Hist([0, 0, 4, 0, 2], 'msecs', { stripLeadingZero: true })).toBe(
      lines([
        '     msecs               : count     distribution',
        '         2 -> 3          : 4        |****************************************|',
        '         4 -> 7          : 0        |                                        |',
        '         8 -> 15         : 2        |********************                    |',
      ]),
    );
  });

  test('slot 1 prints as "0 -> 1"', () => {
    expect(formatLog2Hist([0, 5], 'usecs')).toBe(
      lines([USECS_HEADER, '         0 -> 1          : 5        |****************************************|']),
    );
  });

  test('nothing to print gives the empty string', () => {
    expect(formatLog2Hist([], 'usecs')).toBe('');
    expect(formatLog2Hist(new Array(65).fill(0), 'usecs')).toBe('');
    expect(formatLog2Hist([7, 0, 0], 'usecs')).toBe(''); // slot 0 only: idx_max == 0, no header, no rows
    expect(formatLog2Hist([7n], 'usecs')).toBe('');
  });

  test('wide format when idx_max > 32', () => {
    const s = new Array<number>(65).fill(0);
    s[40] = 800;
    s[3] = 400;
    const out = formatLog2Hist(s, 'kbytes').split('\n');
    expect(out[0]).toBe('               kbytes                        : count     distribution');
    expect(out[1]).toBe('                   0 -> 1                    : 0        |                    |');
    expect(out[3]).toBe('                   4 -> 7                    : 400      |**********          |');
    expect(out[40]).toBe('        549755813888 -> 1099511627775        : 800      |********************|');
    expect(out.length).toBe(42); // header + 40 rows + '' after the final '\n'
    expect(out[41]).toBe('');
  });

  test('boundary: idx_max 32 is still narrow, 33 is wide', () => {
    const s32 = new Array<number>(65).fill(0);
    s32[32] = 1;
    const n = formatLog2Hist(s32, 'ns').split('\n');
    expect(n[0]).toBe('     ns                  : count     distribution');
    expect(n[32]).toBe('2147483648 -> 4294967295 : 1        |****************************************|');
    const s33 = new Array<number>(65).fill(0);
    s33[33] = 1;
    const w = formatLog2Hist(s33, 'ns').split('\n');
    expect(w[0]).toBe('               ns                            : count     distribution');
    expect(w[33]).toBe('          4294967296 -> 8589934591           : 1        |********************|');
  });

  test('slot 64 covers up to 2^64-1', () => {
    const s = new Array<bigint>(65).fill(0n);
    s[64] = 3n;
    const out = formatLog2Hist(s, 'b').split('\n');
    expect(out[64]).toBe(' 9223372036854775808 -> 18446744073709551615 : 3        |********************|');
  });

  test('long val_type is not truncated', () => {
    expect(formatLog2Hist([0, 1], 'a-very-long-value-type-name').split('\n')[0]).toBe(
      '     a-very-long-value-type-name : count     distribution',
    );
  });
});

describe('stars (BCC _stars)', () => {
  test('floor(width*val/val_max), capped at width', () => {
    expect(stars(12, 52, 40)).toBe('*********');
    expect(stars(52, 52, 40)).toBe('*'.repeat(40));
    expect(stars(1, 52, 40)).toBe('');
    expect(stars(0, 52, 40)).toBe('');
    expect(stars(10, 20, 20)).toBe('*'.repeat(10));
  });
  test("'+' replaces the last star when val > val_max", () => {
    expect(stars(60, 52, 40)).toBe('*'.repeat(39) + '+');
    expect(stars(3, 2, 4)).toBe('***+');
    expect(stars(1n, 0n, 40)).toBe('*'.repeat(39) + '+');
  });
});

describe('formatLinearHist (BCC print_linear_hist)', () => {
  test('rows 0..idx_max including zeros', () => {
    expect(formatLinearHist([3, 0, 0, 0, 19, 0, 2], 'kbytes')).toBe(
      lines([
        '     kbytes        : count     distribution',
        '        0          : 3        |******                                  |',
        '        1          : 0        |                                        |',
        '        2          : 0        |                                        |',
        '        3          : 0        |                                        |',
        '        4          : 19       |****************************************|',
        '        5          : 0        |                                        |',
        '        6          : 2        |****                                    |',
      ]),
    );
  });
  test('header printed when only slot 0 is set; nothing for all zero', () => {
    expect(formatLinearHist([5], 'x')).toBe(
      lines([
        '     x             : count     distribution',
        '        0          : 5        |****************************************|',
      ]),
    );
    expect(formatLinearHist([0, 0, 0], 'x')).toBe('');
  });
  test('stripLeadingZero', () => {
    expect(formatLinearHist([0, 0, 1, 0, 2], 'percent', { stripLeadingZero: true })).toBe(
      lines([
        '     percent       : count     distribution',
        '        2          : 1        |********************                    |',
        '        3          : 0        |                                        |',
        '        4          : 2        |****************************************|',
      ]),
    );
  });
});

describe('sections', () => {
  test('log2: "\\n<header> = <key>\\n" then the histogram', () => {
    const out = formatLog2Sections(
      [
        { key: 'sda', slots: [0, 3, 0, 5] },
        { key: 1234, slots: [0, 0] },
        { key: 'nvme0n1', slots: [0, 0, 1] },
      ],
      'usecs',
      'disk',
    );
    expect(out).toBe(
      '\ndisk = sda\n' +
        lines([
          USECS_HEADER,
          '         0 -> 1          : 3        |************************                |',
          '         2 -> 3          : 0        |                                        |',
          '         4 -> 7          : 5        |****************************************|',
        ]) +
        '\ndisk = 1234\n' +
        '\ndisk = nvme0n1\n' +
        lines([USECS_HEADER, '         0 -> 1          : 0        |                                        |', '         2 -> 3          : 1        |****************************************|']),
    );
  });
  test('log2 with stripLeadingZero applies per section', () => {
    const out = formatLog2Sections([{ key: 1, slots: [0, 0, 1] }, { key: 2, slots: [0, 0, 0, 2] }], 'usecs', 'pid', {
      stripLeadingZero: true,
    });
    expect(out).toBe(
      '\npid = 1\n' +
        lines([USECS_HEADER, '         2 -> 3          : 1        |****************************************|']) +
        '\npid = 2\n' +
        lines([USECS_HEADER, '         4 -> 7          : 2        |****************************************|']),
    );
  });
  test('linear', () => {
    expect(formatLinearSections([{ key: 'cpu0', slots: [1, 1] }], 'percent', 'cpu')).toBe(
      '\ncpu = cpu0\n' +
        lines([
          '     percent       : count     distribution',
          '        0          : 1        |****************************************|',
          '        1          : 1        |****************************************|',
        ]),
    );
    expect(formatLinearSections([], 'x', 'y')).toBe('');
  });
});

describe('JSON histograms', () => {
  test('log2 buckets are slots 1..idx_max with BCC ranges', () => {
    expect(log2HistJson([0, 3, 0, 5], 'usecs')).toEqual({
      val_type: 'usecs',
      scale: 'log2',
      buckets: [
        { start: 0, end: 1, count: 3 },
        { start: 2, end: 3, count: 0 },
        { start: 4, end: 7, count: 5 },
      ],
      total: 8,
    });
    const j = log2HistJson(usecsSlots(), 'usecs');
    expect(j.buckets.length).toBe(17);
    expect(j.buckets[16]).toEqual({ start: 65536, end: 131071, count: 2 });
    expect(j.total).toBe(277);
    expect(log2HistJson([9, 0], 'usecs')).toEqual({ val_type: 'usecs', scale: 'log2', buckets: [], total: 0 });
    expect(log2HistJson([0n, 2n ** 40n], 'x').buckets[0]).toEqual({ start: 0, end: 1, count: 2 ** 40 });
  });
  test('linear buckets with base and step', () => {
    expect(linearHistJson([1, 0, 2], 'ms')).toEqual({
      val_type: 'ms',
      scale: 'linear',
      buckets: [
        { start: 0, end: 0, count: 1 },
        { start: 1, end: 1, count: 0 },
        { start: 2, end: 2, count: 2 },
      ],
      total: 3,
    });
    expect(linearHistJson([0, 4, 0, 0], 'kbytes', 100, 10).buckets).toEqual([
      { start: 100, end: 109, count: 0 },
      { start: 110, end: 119, count: 4 },
    ]);
  });
  test('toJson of a histogram is one line of real JSON', () => {
    expect(toJson(log2HistJson([0, 1], 'usecs'))).toBe(
      '{"val_type":"usecs","scale":"log2","buckets":[{"start":0,"end":1,"count":1}],"total":1}',
    );
  });
});

describe('log2Slot mirrors bpf_log2l', () => {
  test('small values', () => {
    expect([0, 1, 2, 3, 4, 7, 8, 15, 16, 64, 127, 128].map((v) => log2Slot(v))).toEqual([
      1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 7, 8,
    ]);
  });
  test('32-bit boundary and the top', () => {
    expect(log2Slot(0xffff)).toBe(16);
    expect(log2Slot(0x10000)).toBe(17);
    expect(log2Slot(0xffffffff)).toBe(32);
    expect(log2Slot(2 ** 32)).toBe(33);
    expect(log2Slot(2n ** 32n)).toBe(33);
    expect(log2Slot(2n ** 33n - 1n)).toBe(33);
    expect(log2Slot(2n ** 63n)).toBe(64);
    expect(log2Slot(2n ** 64n - 1n)).toBe(64);
    expect(log2Slot(-1)).toBe(64); // (unsigned long)-1
    expect(log2Slot(5.9)).toBe(3);
  });
  test('every value lands in the slot whose printed range contains it', () => {
    for (let i = 1; i <= 64; i++) {
      const { low, high } = log2SlotRange(i);
      expect(log2Slot(low)).toBe(i);
      expect(log2Slot(high)).toBe(i);
    }
  });
  test('log2Add builds a user-side histogram', () => {
    const h: number[] = [];
    for (const v of [0, 1, 5, 6, 100]) log2Add(h, v);
    expect(h.length).toBe(65);
    expect(h.slice(0, 8)).toEqual([0, 2, 0, 2, 0, 0, 0, 1]);
  });
  test('histStats', () => {
    expect(histStats(usecsSlots())).toEqual({ count: 277, idxMin: 7, idxMax: 17, valMax: 52 });
    expect(histStats([])).toEqual({ count: 0, idxMin: -1, idxMax: -1, valMax: 0 });
  });
});

describe('sprintf (Python % semantics)', () => {
  // Expected strings produced by CPython's % operator.
  const cases: [string, unknown[], string][] = [
    ['%-16s %-7d %6.2f', ['bash', 1234, 3.14159], 'bash             1234      3.14'],
    ['%-8.3f', [12.3456], '12.346  '],
    ['%-9s', ['12:00:00'], '12:00:00 '],
    ['%10d -> %-10d', [64, 127], '        64 -> 127       '],
    ['%-16s %-7d %-7d %3d %s', ['ls', 4242, 4200, 0, '/bin/ls -la'], 'ls               4242    4200      0 /bin/ls -la'],
    [
      '%-5s %-10.10s %s%-15s %-5s %-15s %-5s %5s %5s %s',
      ['PID', 'COMM', '', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'TX_KB', 'RX_KB', 'MS'],
      'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS',
    ],
    ['%-10.10s|', ['systemd-journald'], 'systemd-jo|'],
    ['%-16s|', ['a-very-long-command-name'], 'a-very-long-command-name|'],
    ['%.3s', ['abcdef'], 'abc'],
    ['%5.1s|', ['xyz'], '    x|'],
    ['%05d', [42], '00042'],
    ['%05d', [-42], '-0042'],
    ['%-05d|', [42], '42   |'],
    ['%+d % d', [5, 5], '+5  5'],
    ['%x %X %#x %#o %o', [255, 255, 255, 8, 8], 'ff FF 0xff 0o10 10'],
    ['%08x', [0xdead], '0000dead'],
    ['%x', [-255], '-ff'],
    ['%.3d', [7], '007'],
    ['%u %i %ld', [3, -4, 5], '3 -4 5'],
    ['%d', [3.99], '3'],
    ['%d', [-3.99], '-3'],
    ['%d %x', [2n ** 64n - 1n, 2n ** 64n - 1n], '18446744073709551615 ffffffffffffffff'],
    ['%6.2f', [0.125], '  0.12'],
    ['%.2f', [0.125], '0.12'],
    ['%.2f', [0.375], '0.38'],
    ['%.0f %.0f %.0f', [0.5, 1.5, 2.5], '0 2 2'],
    ['%.1f', [-0], '-0.0'],
    ['%f', [1e22], '10000000000000000000000.000000'],
    ['%010.3f', [-3.14159], '-00003.142'],
    ['%e %E', [12345.678, 0.000123], '1.234568e+04 1.230000E-04'],
    ['%.3g %g %g', [1234567.0, 0.0001, 1e-5], '1.23e+06 0.0001 1e-05'],
    ['%.17g', [1e-7], '9.9999999999999995e-08'],
    ['%f %F', [NaN, -Infinity], 'nan -INF'],
    ['%5s%%', ['99'], '   99%'],
    ['100%%', [], '100%'],
    ['%c%c', [65, 'z'], 'Az'],
    ['%*d|%-*d|%.*f', [6, 42, 6, 42, 2, 3.14159], '    42|42    |3.14'],
    ['%-6d|%6s|', [7n, 'ab'], '7     |    ab|'],
  ];
  test.each(cases)('%s', (fmt, args, want) => {
    expect(sprintf(fmt, ...args)).toBe(want);
  });
  test('too few arguments throws', () => {
    expect(() => sprintf('%d %d', 1)).toThrow(/not enough arguments/);
  });
  test('formatFixed rounds half to even on the exact binary value', () => {
    expect(formatFixed(2.675, 2)).toBe('2.67'); // 2.67499999...
    expect(formatFixed(1.005, 2)).toBe('1.00');
    expect(formatFixed(0.5, 0)).toBe('0');
    expect(formatFixed(-1.5, 0)).toBe('-2');
    expect(formatFixed(1e21, 1)).toBe('1000000000000000000000.0');
  });
});

describe('time', () => {
  test('strftimeHMS is local HH:MM:SS', () => {
    expect(strftimeHMS(new Date(2024, 0, 2, 3, 4, 5))).toBe('03:04:05');
    expect(strftimeHMS(new Date(2024, 0, 2, 23, 59, 59))).toBe('23:59:59');
    expect(strftimeHMS()).toMatch(/^\d\d:\d\d:\d\d$/);
  });
  test('strftime', () => {
    expect(strftime('%Y-%m-%d %H:%M:%S', new Date(2026, 10, 24, 23, 24, 11))).toBe('2026-11-24 23:24:11');
    expect(strftime('%% %b %a %j', new Date(2024, 1, 1))).toBe('% Feb Thu 032');
  });
  test("timeZoneAbbreviation is strftime's %Z (from the zone files), as date(1) prints it", () => {
    const winter = new Date('2026-01-15T12:00:00Z');
    const summer = new Date('2026-07-15T12:00:00Z');
    const cases: [string, Date, string][] = [
      ['Asia/Kolkata', winter, 'IST'], ['UTC', winter, 'UTC'], ['America/New_York', winter, 'EST'],
      ['America/New_York', summer, 'EDT'], ['Europe/London', summer, 'BST'], ['Asia/Dubai', summer, '+04'],
      [':Europe/Paris', winter, 'CET'], ['', winter, 'UTC'],
    ];
    for (const [tz, d, want] of cases) {
      const date = spawnSync('date', ['-d', `@${d.getTime() / 1000}`, '+%Z'], { encoding: 'utf8', env: { ...process.env, TZ: tz } }).stdout.trim();
      expect({ tz, ours: timeZoneAbbreviation(d, tz), date }).toEqual({ tz, ours: want, date: want });
    }
  });
  test('timestampSeconds', () => {
    expect(timestampSeconds(0n, 1_234_567_890n, 3)).toBe('1.235');
    expect(timestampSeconds(1_000_000_000n, 1_000_000_000n, 3)).toBe('0.000');
    expect(timestampSeconds(5n, 125_000_005n, 2)).toBe('0.12'); // exact tie, half to even like Python
    expect(timestampSeconds(0n, 3_000_123_456n, 6)).toBe('3.000123');
    expect(sprintf('%-8s|', timestampSeconds(0n, 1_500_000_000n, 3))).toBe(sprintf('%-8.3f|', 1.5));
  });
});

describe('toJson', () => {
  test('bigint, bytes, Map, Set', () => {
    expect(
      toJson({
        a: 1n,
        b: 2n ** 53n,
        c: 2n ** 53n + 1n,
        d: -(2n ** 60n),
        e: Buffer.from([1, 2, 255]),
        f: new Uint8Array([10]),
        g: new Map<unknown, unknown>([[1, 'x'], ['k', 2n]]),
        h: new Set([1n]),
        i: [1n, 'x'],
      }),
    ).toBe(
      '{"a":1,"b":9007199254740992,"c":"9007199254740993","d":"-1152921504606846976","e":"0102ff","f":"0a",' +
        '"g":{"1":"x","k":2},"h":[1],"i":[1,"x"]}',
    );
    expect(toJson(5n)).toBe('5');
    expect(toJson(undefined)).toBe('null');
    expect(toJson({ a: 1n }, 2)).toBe('{\n  "a": 1\n}');
  });
});

describe('formatTable', () => {
  const head = ['TOOL', 'DESCRIPTION', 'N'];
  const rows: (string | number)[][] = [
    ['execsnoop', 'Trace new processes', 3],
    ['biolatency', 'Block I/O latency', 12],
  ];
  test('plain: aligned, numbers right-aligned, no trailing spaces', () => {
    expect(formatTable(head, rows, { plain: true })).toBe(
      ['TOOL        DESCRIPTION           N', 'execsnoop   Trace new processes   3', 'biolatency  Block I/O latency    12'].join(
        '\n',
      ),
    );
  });
  test('cli-table3 compact, no colours', () => {
    const out = formatTable(head, rows);
    expect(out).not.toMatch(/\u001b\[/);
    const ls = out.split('\n');
    expect(ls.length).toBe(6); // top, head, separator, 2 rows, bottom (compact: no row separators)
    expect(ls[1]).toBe('│ TOOL       │ DESCRIPTION         │ N  │');
    expect(ls[3]).toBe('│ execsnoop  │ Trace new processes │ 3  │');
  });
});

function collect(stream: PassThrough): () => string {
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  return () => Buffer.concat(parts).toString('utf8');
}

describe('OutputWriter', () => {
  test('buffers until flush, then writes everything in order', () => {
    const s = new PassThrough();
    const got = collect(s);
    const w = new OutputWriter(s, { flushMs: 0 });
    w.line('a');
    w.write('b');
    w.write('c\n');
    w.json({ n: 1n, big: 2n ** 64n });
    expect(got()).toBe('');
    expect(w.pendingChars).toBeGreaterThan(0);
    w.flush();
    expect(got()).toBe('a\nbc\n{"n":1,"big":"18446744073709551616"}\n');
    expect(w.pendingChars).toBe(0);
    w.close();
    w.line('ignored after close');
    w.flush();
    expect(got()).toBe('a\nbc\n{"n":1,"big":"18446744073709551616"}\n');
  });

  test('flushes by size', () => {
    const s = new PassThrough();
    const got = collect(s);
    const w = new OutputWriter(s, { flushBytes: 10, flushMs: 0 });
    w.line('12345');
    expect(got()).toBe('');
    w.line('67890');
    expect(got()).toBe('12345\n67890\n');
    w.close();
  });

  test('flushes by timer', async () => {
    const s = new PassThrough();
    const got = collect(s);
    const w = new OutputWriter(s, { flushMs: 20 });
    w.line('tick');
    expect(got()).toBe('');
    for (let i = 0; i < 100 && got() === ''; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got()).toBe('tick\n');
    w.close();
  });

  test('close() with end: true ends the stream', async () => {
    const s = new PassThrough();
    const got = collect(s);
    const ended = new Promise((r) => s.on('end', r));
    const w = new OutputWriter(s, { end: true });
    w.line('bye');
    w.close();
    await ended;
    expect(got()).toBe('bye\n');
  });

  test('EPIPE from the stream calls onEpipe once and drops later output', async () => {
    let epipes = 0;
    const writes: string[] = [];
    const s = new Writable({
      write(chunk: Buffer, _enc, cb) {
        writes.push(chunk.toString());
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const w = new OutputWriter(s, { flushMs: 0, onEpipe: () => epipes++ });
    w.line('first');
    w.flush();
    await new Promise((r) => setImmediate(r));
    expect(epipes).toBe(1);
    w.line('second');
    w.flush();
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual(['first\n']);
    expect(epipes).toBe(1);
  });

  test('fd mode writes synchronously with fs.writeSync', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-out-'));
    const file = path.join(dir, 'out.txt');
    const fd = fs.openSync(file, 'w');
    try {
      const w = new OutputWriter(undefined, { fd, flushMs: 0 });
      for (let i = 0; i < 1000; i++) w.line(`line ${i} é`);
      w.flush();
      const text = fs.readFileSync(file, 'utf8');
      expect(text.split('\n').length).toBe(1001);
      expect(text.startsWith('line 0 é\nline 1 é\n')).toBe(true);
      expect(text.endsWith('line 999 é\n')).toBe(true);
      w.close();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OutputWriter through a pipe (child process)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-outpipe-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function script(name: string, body: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `import { OutputWriter } from ${JSON.stringify(OUTPUT_INDEX)};\n${body}\n`);
    return file;
  }

  const N = 50000;
  const expected = (): string => {
    let s = '';
    for (let i = 0; i < N; i++) s += `line ${String(i).padStart(6, '0')} ${'x'.repeat(30)}\n`;
    return s;
  };
  const writeLoop = `for (let i = 0; i < ${N}; i++) w.line('line ' + String(i).padStart(6, '0') + ' ' + 'x'.repeat(30));`;

  function runPiped(
    file: string,
    env: Record<string, string> = {},
    readDelayMs = 0,
  ): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(REPO, 'bin', 'bpfkit-node.mjs'), file], {
        cwd: REPO,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const start = (): void => {
        child.stdout.on('data', (b: Buffer) => out.push(b));
      };
      if (readDelayMs > 0) setTimeout(start, readDelayMs);
      else start();
      child.on('error', reject);
      child.on('close', (code) =>
        resolve({ code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8') }),
      );
    });
  }

  test('many lines arrive complete and in order; exit flushes pending output', async () => {
    const f = script('many.mjs', `const w = new OutputWriter(undefined, { flushMs: 100000 });\n${writeLoop}\nw.line('tail');`);
    const r = await runPiped(f);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(expected() + 'tail\n');
  });

  test('pending output survives process.exit() right after writing', async () => {
    const f = script('exit.mjs', `const w = new OutputWriter(process.stdout, { flushMs: 100000 });\n${writeLoop}\nprocess.exit(3);`);
    const r = await runPiped(f);
    expect(r.code).toBe(3);
    expect(r.out).toBe(expected());
  });

  test('a stalled reader (EAGAIN on the non-blocking pipe) loses nothing', async () => {
    const body = `const w = new OutputWriter(process.stdout, { blockMs: Number(process.env.BLOCK_MS) });\n${writeLoop}\nif (process.env.EXIT) process.exit(0);`;
    const f = script('slow.mjs', body);
    const envs: Record<string, string>[] = [{ BLOCK_MS: '1000' }, { BLOCK_MS: '10' }, { BLOCK_MS: '10', EXIT: '1' }];
    for (const env of envs) {
      const r = await runPiped(f, env, 300);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out.length).toBe(expected().length);
      expect(r.out).toBe(expected());
    }
  });

  test('EPIPE (`| head`) exits 0 quietly', () => {
    const f = script(
      'epipe.mjs',
      [
        "const mode = process.env.MODE;",
        "const w = mode === 'stream' ? new OutputWriter(process.stdout, { fd: null }) : mode === 'stdout' ? new OutputWriter(process.stdout) : new OutputWriter();",
        'let i = 0;',
        'function pump() { for (let k = 0; k < 2000; k++) w.line("line " + i++); setImmediate(pump); }',
        'pump();',
      ].join('\n'),
    );
    for (const mode of ['default', 'stdout', 'stream']) {
      const r = spawnSync(
        'bash',
        ['-c', `set -o pipefail; timeout 20 "${process.execPath}" "${path.join(REPO, 'bin', 'bpfkit-node.mjs')}" "${f}" | head -n 2`],
        { cwd: REPO, env: { ...process.env, MODE: mode }, encoding: 'utf8' },
      );
      expect({ mode, status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
        mode,
        status: 0,
        stdout: 'line 0\nline 1\n',
        stderr: '',
      });
    }
  });
});
