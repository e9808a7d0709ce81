// lib/host/disks.ts: dev_t encoding, /proc/diskstats parsing, sysfs completion, partitions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  blockDeviceByDev, devMajor, devMinor, diskName, listBlockDevices, mkdev, parseDiskstats, reqFlagsName, reqIsWrite,
  reqOpName, reqRwbs, resolveDisk,
} from '../../lib/host/disks.js';

const diskstats = `
   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 42782 9860 3252330 14294 8780 18128 1349456 3297 0 6680 18513 4901 68 157560 591 1013 329
 254       1 vda1 100 0 800 10 0 0 0 0 0 10 10 0 0 0 0 0 0
 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11
`;

describe('dev_t', () => {
  test('MKDEV is major << 20 | minor, as the kernel encodes it in block tracepoints', () => {
    expect(mkdev(254, 0)).toBe(254 << 20);
    expect(mkdev(8, 17)).toBe((8 << 20) | 17);
    expect(mkdev(4095, (1 << 20) - 1)).toBe(0xffffffff); // unsigned, not negative
    expect(devMajor(mkdev(259, 3))).toBe(259);
    expect(devMinor(mkdev(259, 3))).toBe(3);
  });
});

describe('/proc/diskstats', () => {
  test('parses major, minor, name and skips junk', () => {
    expect(parseDiskstats(diskstats + '\nnot a line\n')).toEqual([
      { name: 'loop0', major: 7, minor: 0 },
      { name: 'vda', major: 254, minor: 0 },
      { name: 'vda1', major: 254, minor: 1 },
      { name: 'nvme0n1', major: 259, minor: 0 },
    ]);
  });

  test('sysfs completes the list and marks partitions with their disk', () => {
    const sys = fs.mkdtempSync(path.join(os.tmpdir(), 'disks-'));
    try {
      // A fake /sys/class/block: sdb only in sysfs; vda1 a partition whose real path is under vda.
      fs.mkdirSync(path.join(sys, 'devices', 'vda', 'vda1'), { recursive: true });
      fs.writeFileSync(path.join(sys, 'devices', 'vda', 'vda1', 'partition'), '1\n');
      fs.mkdirSync(path.join(sys, 'devices', 'vda'), { recursive: true });
      const cls = path.join(sys, 'class');
      fs.mkdirSync(cls);
      fs.symlinkSync(path.join(sys, 'devices', 'vda'), path.join(cls, 'vda'));
      fs.symlinkSync(path.join(sys, 'devices', 'vda', 'vda1'), path.join(cls, 'vda1'));
      fs.mkdirSync(path.join(cls, 'sdb'));
      fs.writeFileSync(path.join(cls, 'sdb', 'dev'), '8:16\n');
      const list = listBlockDevices({ diskstats, sysBlock: cls });
      const by = new Map(list.map(d => [d.name, d]));
      expect(by.get('sdb')).toMatchObject({ major: 8, minor: 16, dev: (8 << 20) | 16, partition: false, disk: 'sdb' });
      expect(by.get('vda')).toMatchObject({ dev: 254 << 20, partition: false, disk: 'vda' });
      expect(by.get('vda1')).toMatchObject({ dev: (254 << 20) | 1, partition: true, disk: 'vda' });
      expect(by.get('nvme0n1')!.dev).toBe(259 << 20);
    } finally {
      fs.rmSync(sys, { recursive: true });
    }
  });
});

describe('lookups on this machine', () => {
  const real = listBlockDevices().filter(d => !d.partition);
  const first = real[0];
  (first ? test : test.skip)('a disk resolves both ways', () => {
    expect(diskName(first.dev)).toBe(first.name);
    expect(blockDeviceByDev(first.dev)?.name).toBe(first.name);
    const r = resolveDisk(first.name);
    expect('dev' in r && r.dev).toBe(first.dev);
    const r2 = resolveDisk(`/dev/${first.name}`);
    expect('dev' in r2 && r2.dev).toBe(first.dev);
  });

  test('an unknown disk is an error naming the known disks; an unknown dev_t is "?"', () => {
    const r = resolveDisk('nosuchdisk0');
    expect('error' in r && r.error).toMatch(/^no such disk 'nosuchdisk0'/);
    expect(diskName(mkdev(4000, 12345))).toBe('?');
    expect(diskName(mkdev(4000, 12345), '<unknown>')).toBe('<unknown>');
  });
});

describe('request cmd_flags (bit numbers of Linux 5.10-6.x, from BTF where available)', () => {
  const SYNC = 1 << 11, META = 1 << 12, PRIO = 1 << 13, IDLE = 1 << 15, FUA = 1 << 17, PREFLUSH = 1 << 18, RAHEAD = 1 << 19;
  test('BCC\'s flags_print names', () => {
    expect(reqFlagsName(1 | SYNC)).toBe('Sync-Write');
    expect(reqFlagsName(0 | RAHEAD)).toBe('ReadAhead-Read');
    expect(reqFlagsName(1 | SYNC | IDLE)).toBe('Idle-Sync-Write'); // an O_DIRECT write
    expect(reqFlagsName(0 | META | PRIO)).toBe('Priority-Metadata-Read');
    expect(reqFlagsName(1 | SYNC | META | FUA)).toBe('ForcedUnitAccess-Metadata-Sync-Write');
    expect(reqFlagsName(2)).toBe('Flush');
    expect(reqFlagsName(9)).toBe('WriteZeros');
    expect(reqFlagsName(5)).toBe('SecureErase');
    expect(reqFlagsName(200)).toBe('Unknown');
    expect(reqOpName(3)).toBe('Discard');
  });

  test('blk_fill_rwbs letters and the R/W column', () => {
    expect(reqRwbs(1)).toBe('W');
    expect(reqRwbs(1 | SYNC)).toBe('WS');
    expect(reqRwbs(1 | PREFLUSH | FUA | SYNC)).toBe('FWFS');
    expect(reqRwbs(0 | RAHEAD)).toBe('RA');
    expect(reqRwbs(0 | META | SYNC)).toBe('RSM');
    expect(reqRwbs(2)).toBe('F');
    expect(reqRwbs(3)).toBe('D');
    expect(reqRwbs(5)).toBe('DE');
    expect(reqRwbs(9)).toBe('N');
    expect(reqIsWrite(1 | SYNC)).toBe(true);
    expect(reqIsWrite(2)).toBe(false); // BCC's T column: a flush shows as R
  });
});
