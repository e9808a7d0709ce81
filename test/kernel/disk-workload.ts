// Disk workloads of known shape for the block-layer tool tests (bitesize, biopattern, biotop, ...):
// direct I/O (O_DIRECT: one request per call, no page cache, no merging) on a file under /var/tmp,
// which is on the root disk vda, by programs with names of their own so that a tool's per-comm
// output can be told apart from other I/O on the machine (other engineers' tests run dd too).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildC, sleep, startTool, startReference, type Running } from './helpers.js';

export interface DiskWorkspace {
  dir: string;
  /** A preallocated, written file: overwrites and reads of it are one request each, in place. */
  file: string;
  /** Copies of dd under names of their own (the comm a tool shows), made by dd(). */
  dd(name: string): string;
  /** The random-offset reader (C, pread with O_DIRECT), built on first use. */
  randomReader(name?: string): string;
  remove(): void;
}

/** A directory under /var/tmp (on vda; /tmp may be elsewhere) with a file of `mib` MiB written and synced. */
export function diskWorkspace(prefix: string, mib = 16): DiskWorkspace {
  const dir = fs.mkdtempSync(`/var/tmp/bpfkit-${prefix}-`);
  const file = path.join(dir, 'data');
  const r = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fsync'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd: ${r.stderr}`);
  return {
    dir,
    file,
    dd(name) {
      const p = path.join(dir, name);
      if (!fs.existsSync(p)) fs.copyFileSync('/usr/bin/dd', p), fs.chmodSync(p, 0o755);
      return p;
    },
    randomReader(name = 'randread') {
      const p = path.join(dir, name);
      if (!fs.existsSync(p)) buildC(p, RANDOM_READER_C);
      return p;
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface DirectIo {
  /** Block size in bytes. */
  bs: number;
  count: number;
  /** Read the file instead of overwriting it. */
  read?: boolean;
  /** The dd copy (a path from DiskWorkspace.dd); default: dd. */
  dd?: string;
}

/** `count` direct-I/O writes (or reads) of `bs` bytes at consecutive offsets; returns dd's PID. */
export function directIo(file: string, io: DirectIo): number {
  const args = io.read
    ? [`if=${file}`, 'of=/dev/null', `bs=${io.bs}`, `count=${io.count}`, 'iflag=direct']
    : ['if=/dev/zero', `of=${file}`, `bs=${io.bs}`, `count=${io.count}`, 'oflag=direct', 'conv=notrunc'];
  const r = spawnSync(io.dd ?? 'dd', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd ${args.join(' ')}: ${r.stderr}`);
  return r.pid!;
}

/** `count` direct reads of `bs` bytes, each at a random bs-aligned offset of `file`; returns the PID. */
export function randomReads(reader: string, file: string, bs: number, count: number, seed = 1): number {
  return randomReadBlocks(reader, file, bs, count, seed).pid;
}

/** As randomReads, and the blocks (offset / bs) it read, in order. */
export function randomReadBlocks(reader: string, file: string, bs: number, count: number, seed = 1): { pid: number; blocks: number[] } {
  const r = spawnSync(reader, [file, String(bs), String(count), String(seed)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${reader}: ${r.stderr}`);
  return { pid: r.pid!, blocks: r.stdout.trim().split('\n').map(Number) };
}

// No two consecutive reads are adjacent (so each one is a seek), which makes the pattern's truth exact.
const RANDOM_READER_C = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	int fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	long bs = atol(argv[2]), count = atol(argv[3]);
	long blocks = lseek(fd, 0, SEEK_END) / bs;
	void *buf;
	if (blocks < 4 || posix_memalign(&buf, 4096, bs))
		return 1;
	srandom(atoi(argv[4]));
	long prev = -2;
	for (long i = 0; i < count; i++) {
		long b;
		do
			b = random() % blocks;
		while (b == prev + 1 || b == prev);
		if (pread(fd, buf, bs, b * bs) != bs) {
			perror("pread");
			return 1;
		}
		printf("%ld\\n", b);
		prev = b;
	}
	return 0;
}
`;

/** Polls until `cond` holds (a tool's banner may be on stdout or, in JSON mode, stderr). */
export async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(50)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Waits for the "Hit Ctrl-C" / "Tracing" banner (stdout, or stderr with --json): attached by then. */
export const bannerShown = (r: Running, re = /Hit Ctrl-C|Tracing/) =>
  until(() => re.test(r.stdout() + r.stderr()) || r.child.exitCode !== null, 'the banner').then(() => {
    if (r.child.exitCode !== null) throw new Error(`exited ${r.child.exitCode} before attaching:\n${r.stderr()}`);
  });

export interface TracedRun { out: string; err: string; code: number | null; pid: number }

/**
 * Runs a tool (ours, or libbpf-tools' with `reference`) around `work` (which returns the PID doing the
 * I/O), stops it with Ctrl-C and returns what it printed. On this VM the kernel now and then fires no
 * block tracepoint for a burst of completions (biolatency.test.ts measured it: 1 to 31 of 200 direct
 * writes missing in ~4 % of runs), so a run that `enough` finds short is run again, up to 3 times.
 */
export async function tracedIo(tool: string, args: string[], work: () => number,
  enough: (r: TracedRun) => boolean = () => true, reference = false): Promise<TracedRun> {
  let r: TracedRun | undefined;
  for (let attempt = 0; attempt < 3 && (!r || !enough(r)); attempt++) {
    const t = reference ? startReference(tool, args) : startTool(tool, args);
    let pid = 0;
    try {
      await bannerShown(t);
      pid = work();
      await sleep(200);
    } finally {
      await t.stop('SIGINT');
    }
    r = { out: t.stdout(), err: t.stderr(), code: await t.exited, pid };
  }
  return r!;
}

/** The rows of a BCC/libbpf-tools log2 histogram. */
export function histRows(text: string): { low: number; high: number; count: number }[] {
  return [...text.matchAll(/^ *(\d+) -> (\d+) +: (\d+) +\|[*+ ]*\|$/gm)].map(m => ({ low: +m[1], high: +m[2], count: +m[3] }));
}

/** The text of one section (`<header> = <key>` up to the next section or the end). */
export function histSection(text: string, header: string, key: string): string | undefined {
  const parts = text.split(`\n${header} = ${key}\n`);
  if (parts.length < 2) return undefined;
  return parts.slice(1).map(p => p.split(/\n\n|\n[^\n]+ = [^\n]+\n/)[0]).join('\n');
}

export interface LoopDevice {
  /** /dev/loopN */
  path: string;
  /** loopN, as the tools name the disk */
  name: string;
  detach(): void;
}

/**
 * A loop device of `mib` MiB backed by a file in `dir`: a disk of its own, which no other I/O on the
 * machine touches, and whose sectors are the offsets written (no file system between).
 */
export function loopDevice(dir: string, mib = 64): LoopDevice {
  const backing = path.join(dir, `loop-${process.pid}-${Date.now()}.img`);
  fs.writeFileSync(backing, '');
  fs.truncateSync(backing, mib * 1024 * 1024);
  const r = spawnSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`losetup: ${r.stderr}`);
  const dev = r.stdout.trim();
  return {
    path: dev,
    name: path.basename(dev),
    detach: () => {
      spawnSync('losetup', ['-d', dev]);
      fs.rmSync(backing, { force: true });
    },
  };
}

export interface SlowDisk extends LoopDevice {
  /** How long the FUSE server holds each read and write of the backing file, in ms. */
  delayMs: number;
}

/**
 * A loop device whose every request takes at least `delayMs`: its backing file is on a FUSE file
 * system (a small C server, built on first use) that sleeps that long before answering each read or
 * write, and serves the file with direct_io, so no page cache answers for it. A disk of known
 * latency, where null_blk's completion_nsec is not built (this kernel has no null_blk).
 */
export async function slowLoopDevice(dir: string, delayMs: number, mib = 16): Promise<SlowDisk> {
  const server = path.join(dir, 'slowfs');
  if (!fs.existsSync(server)) buildC(server, SLOW_FS_C, ['-I/usr/include/fuse3', '-lfuse3', '-lpthread']);
  const mnt = fs.mkdtempSync(path.join(dir, 'slowfs-mnt-'));
  const child = spawn(server, [mnt, '-f', '-s'], { stdio: 'ignore', env: { ...process.env, SLOWFS_DELAY_US: String(delayMs * 1000), SLOWFS_MIB: String(mib) } });
  const image = path.join(mnt, 'disk.img');
  try {
    await until(() => fs.existsSync(image) || child.exitCode !== null, 'the FUSE server', 20_000);
    if (child.exitCode !== null) throw new Error(`${server} exited ${child.exitCode}`);
  } catch (e) {
    child.kill();
    throw e;
  }
  const r = spawnSync('losetup', ['--find', '--show', image], { encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('umount', ['-l', mnt]);
    child.kill();
    throw new Error(`losetup: ${r.stderr}`);
  }
  const dev = r.stdout.trim();
  return {
    path: dev,
    name: path.basename(dev),
    delayMs,
    detach: () => {
      spawnSync('losetup', ['-d', dev]);
      spawnSync('umount', ['-l', mnt]);
      child.kill();
      fs.rmSync(mnt, { recursive: true, force: true });
    },
  };
}

// One file, /disk.img, of zeros; every read and write sleeps SLOWFS_DELAY_US first. direct_io: each
// read of the loop device's backing file reaches the server (no page cache in between).
const SLOW_FS_C = `
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long delay_us;
static off_t image_size;

static int slow_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/disk.img") != 0)
		return -ENOENT;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = image_size;
	return 0;
}

static int slow_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/disk.img") != 0)
		return -ENOENT;
	fi->direct_io = 1;
	return 0;
}

static int slow_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	usleep(delay_us);
	if (off >= image_size)
		return 0;
	if (off + (off_t)size > image_size)
		size = image_size - off;
	memset(buf, 0, size);
	return size;
}

static int slow_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	usleep(delay_us);
	return size;
}

static int slow_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return 0;
}

static const struct fuse_operations ops = {
	.getattr = slow_getattr,
	.open = slow_open,
	.read = slow_read,
	.write = slow_write,
	.fsync = slow_fsync,
};

int main(int argc, char **argv)
{
	delay_us = atol(getenv("SLOWFS_DELAY_US") ? getenv("SLOWFS_DELAY_US") : "0");
	image_size = (off_t)atol(getenv("SLOWFS_MIB") ? getenv("SLOWFS_MIB") : "16") << 20;
	return fuse_main(argc, argv, &ops, NULL);
}
`;

export interface FailingDisk extends LoopDevice {
  /** The first 4 KiB block past the backing file's end: reading it, or any after it, fails with EIO. */
  firstBadBlock: number;
}

/**
 * A loop device of `mib` MiB whose backing file is then cut to `goodMib`: a read past the file's end
 * finds no data and the loop driver fails the request with EIO (BLK_STS_IOERR). Each direct read of
 * a block there is one failing request. (No null_blk or dm-error on this kernel.)
 */
export function failingLoopDevice(dir: string, mib = 16, goodMib = 1): FailingDisk {
  const d = loopDevice(dir, mib);
  const backing = spawnSync('losetup', ['--noheadings', '--output', 'BACK-FILE', d.path], { encoding: 'utf8' }).stdout.trim();
  fs.truncateSync(backing, goodMib * 1024 * 1024);
  return { ...d, firstBadBlock: (goodMib * 1024 * 1024) / 4096 };
}

/**
 * A loop device whose backing file (sparse, `mib` MiB) is on a tmpfs of only `roomKib` KiB: a write
 * that needs more room fails with ENOSPC (BLK_STS_NOSPC).
 */
export function fullLoopDevice(dir: string, roomKib = 256, mib = 16): LoopDevice {
  const mnt = fs.mkdtempSync(path.join(dir, 'tmpfs-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${roomKib}k`, 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`mount tmpfs: ${m.stderr}`);
  const d = loopDevice(mnt, mib);
  return {
    ...d,
    detach: () => {
      d.detach();
      spawnSync('umount', ['-l', mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    },
  };
}

/** Writes (requests completed), writes merged into another request, and sectors written that /proc/diskstats has counted for a disk. */
export function diskWrites(name: string): { writes: number; merged: number; sectors: number } {
  const f = fs.readFileSync('/proc/diskstats', 'utf8').split('\n').map(l => l.trim().split(/\s+/)).find(x => x[2] === name)!;
  return { writes: +f[7], merged: +f[8], sectors: +f[9] };
}
