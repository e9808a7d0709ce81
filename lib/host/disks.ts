// Block devices: names <-> dev_t, as the kernel's block tracepoints and struct gendisk report them.
// The kernel's dev_t is MKDEV(major, minor) = major << 20 | minor (not glibc's encoding). Names come
// from /proc/diskstats (BCC's source) and, where that is missing, /sys/class/block/*/dev.
import fs from 'node:fs';
import path from 'node:path';
import { Btf } from '../btf/index.js';

export interface BlockDevice {
  name: string;
  major: number;
  minor: number;
  /** Kernel dev_t: major << 20 | minor. */
  dev: number;
  /** Whether it is a partition (block requests are accounted to the whole disk, not partitions). */
  partition: boolean;
  /** The whole disk a partition belongs to (itself for a disk). */
  disk: string;
}

const MINORBITS = 20;
const MINORMASK = (1 << MINORBITS) - 1;

/** The kernel's MKDEV(major, minor). */
export function mkdev(major: number, minor: number): number {
  return ((major << MINORBITS) | (minor & MINORMASK)) >>> 0;
}
export const devMajor = (dev: number) => dev >>> MINORBITS;
export const devMinor = (dev: number) => dev & MINORMASK;

/** "major minor name ..." lines of /proc/diskstats (or of any text in that shape). */
export function parseDiskstats(text: string): { name: string; major: number; minor: number }[] {
  const out: { name: string; major: number; minor: number }[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || !/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1])) continue;
    out.push({ name: f[2], major: Number(f[0]), minor: Number(f[1]) });
  }
  return out;
}

export interface DiskSources {
  /** Text of /proc/diskstats (default: read it). */
  diskstats?: string;
  /** Directory like /sys/class/block (default: that one). */
  sysBlock?: string;
}

/** Every block device the system knows now: /proc/diskstats, completed by /sys/class/block. */
export function listBlockDevices(src: DiskSources = {}): BlockDevice[] {
  const sys = src.sysBlock ?? '/sys/class/block';
  const byName = new Map<string, { name: string; major: number; minor: number }>();
  let stats = src.diskstats;
  if (stats === undefined) {
    try {
      stats = fs.readFileSync('/proc/diskstats', 'utf8');
    } catch {
      stats = '';
    }
  }
  for (const d of parseDiskstats(stats)) byName.set(d.name, d);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(sys);
  } catch { /* no sysfs */ }
  for (const name of entries) {
    if (byName.has(name)) continue;
    try {
      const m = /^(\d+):(\d+)/.exec(fs.readFileSync(path.join(sys, name, 'dev'), 'utf8').trim());
      if (m) byName.set(name, { name, major: Number(m[1]), minor: Number(m[2]) });
    } catch { /* gone meanwhile */ }
  }
  return [...byName.values()].map(d => {
    const partition = fs.existsSync(path.join(sys, d.name, 'partition'));
    let disk = d.name;
    if (partition) {
      try {
        // /sys/class/block/vda1 -> ../../devices/.../block/vda/vda1: the parent directory is the disk.
        disk = path.basename(path.dirname(fs.realpathSync(path.join(sys, d.name))));
      } catch { /* keep its own name */ }
    }
    return { ...d, dev: mkdev(d.major, d.minor), partition, disk };
  });
}

let cache: { byDev: Map<number, BlockDevice>; byName: Map<string, BlockDevice>; at: number } | undefined;

function table(refresh = false) {
  if (!cache || refresh) {
    const list = listBlockDevices();
    cache = { byDev: new Map(list.map(d => [d.dev, d])), byName: new Map(list.map(d => [d.name, d])), at: Date.now() };
  }
  return cache;
}

/** Re-reads the table on a miss, at most once a second (disks come and go). */
function lookup<K>(get: (t: NonNullable<typeof cache>) => BlockDevice | undefined): BlockDevice | undefined {
  const hit = get(table());
  if (hit) return hit;
  if (Date.now() - cache!.at < 1000) return undefined;
  return get(table(true));
}

/** The device with this kernel dev_t (major << 20 | minor), if any. */
export function blockDeviceByDev(dev: number): BlockDevice | undefined {
  return lookup(t => t.byDev.get(dev >>> 0));
}

/** The name of the device with this kernel dev_t, or `unknown` (BCC prints "?" or "<unknown>"). */
export function diskName(dev: number, unknown = '?'): string {
  return blockDeviceByDev(dev)?.name ?? unknown;
}

/** A device by name ("vda" or "/dev/vda"), if it exists. */
export function blockDeviceByName(name: string): BlockDevice | undefined {
  const n = name.replace(/^\/dev\//, '');
  return lookup(t => t.byName.get(n));
}

/**
 * Resolves a user's disk argument (-d DISK) to the whole disk's dev_t, as block requests carry it.
 * Returns an error message instead when there is no such disk or it names a partition.
 */
export function resolveDisk(name: string): { dev: number; device: BlockDevice } | { error: string } {
  const d = blockDeviceByName(name);
  if (!d) {
    const known = [...table().byName.values()].filter(x => !x.partition).map(x => x.name).sort();
    return { error: `no such disk '${name}'${known.length ? ` (disks: ${known.join(', ')})` : ''}` };
  }
  if (d.partition) {
    return { error: `'${d.name}' is a partition: block requests are per disk (use -d ${d.disk})` };
  }
  return { dev: d.dev, device: d };
}

/** Forgets the cached table (tests). */
export function resetDiskCache(): void {
  cache = undefined;
}

// ---------------------------------------------------------------- request flags (cmd_flags)
// A request's cmd_flags: the operation in the low REQ_OP_BITS (8) bits, REQ_* flag bits above. The
// numbers move between kernel versions (zone ops were renumbered in 5.x, flag bits were added), so
// they are read from the running kernel's BTF (enum req_op, enum req_flag_bits), with the numbers of
// Linux 5.10-6.x as the fallback.

export const REQ_OP_BITS = 8;
const REQ_OP_MASK = (1 << REQ_OP_BITS) - 1;

type FlagName = 'SYNC' | 'META' | 'PRIO' | 'NOMERGE' | 'IDLE' | 'FUA' | 'PREFLUSH' | 'RAHEAD' | 'BACKGROUND' | 'NOWAIT' | 'ATOMIC';

interface ReqLayout {
  /** Operation number -> name as BCC prints it ("Read", "SecureErase"...). */
  ops: Map<number, string>;
  /** Flag -> bit number (absent when this kernel has no such flag). */
  bits: Map<FlagName, number>;
}

const fallbackLayout = (): ReqLayout => ({
  ops: new Map([[0, 'READ'], [1, 'WRITE'], [2, 'FLUSH'], [3, 'DISCARD'], [5, 'SECURE_ERASE'], [7, 'ZONE_APPEND'],
    [9, 'WRITE_ZEROES'], [11, 'ZONE_OPEN'], [13, 'ZONE_CLOSE'], [15, 'ZONE_FINISH'], [17, 'ZONE_RESET'],
    [19, 'ZONE_RESET_ALL'], [34, 'DRV_IN'], [35, 'DRV_OUT']].map(([n, op]) => [n as number, opDisplayName(op as string)])),
  bits: new Map<FlagName, number>([['SYNC', 11], ['META', 12], ['PRIO', 13], ['NOMERGE', 14], ['IDLE', 15], ['FUA', 17],
    ['PREFLUSH', 18], ['RAHEAD', 19], ['BACKGROUND', 20], ['NOWAIT', 21], ['ATOMIC', 27]]),
});

/** REQ_OP_SECURE_ERASE -> "SecureErase"; WRITE_ZEROES keeps BCC's spelling "WriteZeros". */
function opDisplayName(op: string): string {
  if (op === 'WRITE_ZEROES') return 'WriteZeros';
  return op.toLowerCase().split('_').map(w => w[0].toUpperCase() + w.slice(1)).join('');
}

let layoutCache: ReqLayout | undefined;
function reqLayout(): ReqLayout {
  if (layoutCache) return layoutCache;
  layoutCache = fallbackLayout();
  try {
    const btf = Btf.vmlinux();
    const ops = btf.find('req_op', 'enum')?.values;
    const bits = btf.find('req_flag_bits', 'enum')?.values;
    if (ops?.length && bits?.length) {
      layoutCache = {
        ops: new Map(ops.filter(v => v.name !== 'REQ_OP_LAST').map(v => [Number(v.value), opDisplayName(v.name.replace(/^REQ_OP_/, ''))])),
        bits: new Map(bits.map(v => [v.name.replace(/^__REQ_/, '') as FlagName, Number(v.value)])),
      };
    }
  } catch { /* no kernel BTF: the fallback numbers */ }
  return layoutCache;
}

function has(flags: number, name: FlagName): boolean {
  const bit = reqLayout().bits.get(name);
  return bit !== undefined && Math.floor(flags / 2 ** bit) % 2 === 1;
}

/** The operation's name: "Read", "Write", "Flush", ..., "Unknown". */
export function reqOpName(flags: number): string {
  return reqLayout().ops.get(flags & REQ_OP_MASK) ?? 'Unknown';
}

/**
 * BCC's flags_print(): the operation prefixed by its flags, innermost first, e.g. "Sync-Write",
 * "ReadAhead-Read", "Idle-Sync-Write", "Priority-Metadata-Read".
 */
export function reqFlagsName(flags: number): string {
  let desc = reqOpName(flags);
  const prefixes: [FlagName, string][] = [
    ['SYNC', 'Sync'], ['META', 'Metadata'], ['FUA', 'ForcedUnitAccess'], ['PRIO', 'Priority'], ['NOMERGE', 'NoMerge'],
    ['IDLE', 'Idle'], ['RAHEAD', 'ReadAhead'], ['BACKGROUND', 'Background'], ['NOWAIT', 'NoWait'],
  ];
  for (const [flag, name] of prefixes) if (has(flags, flag)) desc = `${name}-${desc}`;
  return desc;
}

/** The kernel's blk_fill_rwbs(): "W", "WS", "FWFS", "RA", "R", "F", "D", "N"... as blktrace shows. */
export function reqRwbs(flags: number): string {
  let s = has(flags, 'PREFLUSH') ? 'F' : '';
  switch (reqOpName(flags)) {
    case 'Write': s += 'W'; break;
    case 'Discard': s += 'D'; break;
    case 'SecureErase': s += 'DE'; break;
    case 'Flush': s += 'F'; break;
    case 'Read': s += 'R'; break;
    default: s += 'N';
  }
  if (has(flags, 'FUA')) s += 'F';
  if (has(flags, 'RAHEAD')) s += 'A';
  if (has(flags, 'SYNC')) s += 'S';
  if (has(flags, 'META')) s += 'M';
  if (has(flags, 'ATOMIC')) s += 'U';
  return s;
}

/** Whether the request writes (BCC's biosnoop "T" column: W, else R). REQ_OP_WRITE is 1 everywhere. */
export function reqIsWrite(flags: number): boolean {
  return (flags & REQ_OP_MASK) === 1;
}
