// biosnoop on the real kernel: N direct-I/O writes by one dd show as exactly N lines with dd's
// COMM and PID on the file's sectors, DISK vda, T W and BYTES = the block size; -Q, -P, -d, -c,
// --json; bad input. Lines are matched by sector as well as PID: dd may also write elsewhere in its
// own context (ext4 checkpointing its journal when the journal is full, on a busy machine), and
// that I/O is dd's too, but not the writes counted here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ready, root, runTool, sleep, startTool } from './helpers.js';

const N = 50;
let dir: string;
let file: string;
/** The file's blocks on the disk, [first, end) in 512-byte sectors as the block tracepoints number them. */
let extents: [number, number][];
const onFile = (sector: number) => extents.some(([lo, end]) => sector >= lo && sector < end);

beforeAll(() => {
  dir = fs.mkdtempSync('/var/tmp/bpfkit-biosnoop-'); // on vda
  file = path.join(dir, 'data');
  // Allocate and write the blocks first: the traced writes then overwrite them in place, so each
  // one is exactly one request from dd (no block allocation, no extent conversion).
  const r = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=4', 'conv=fsync'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  extents = fileExtents(file);
  expect(extents.length).toBeGreaterThan(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Where a file's blocks are on its disk (filefrag's physical offsets, plus the partition's start). */
function fileExtents(f: string): [number, number][] {
  const r = spawnSync('filefrag', ['-v', '-b512', f], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`filefrag: ${r.stderr}`);
  // st_dev as glibc encodes it (gnu_dev_major/minor): major in bits 8-19 and 44-63, minor in 0-7 and 20-43
  const dev = fs.statSync(f, { bigint: true }).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  const partition = `/sys/dev/block/${major}:${minor}/start`; // absent for a whole disk
  const start = fs.existsSync(partition) ? Number(fs.readFileSync(partition, 'utf8')) : 0;
  return [...r.stdout.matchAll(/^\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+)\.\.\s*(\d+):/gm)].map(m => [start + Number(m[1]), start + Number(m[2]) + 1]);
}

/** N direct-I/O overwrites of bs bytes by one dd; returns its PID. */
function directWrites(count: number, bs = 4096, prefix: string[] = []): number {
  const r = spawnSync(prefix[0] ?? 'dd', [...prefix.slice(1), ...(prefix.length ? ['dd'] : []),
    'if=/dev/zero', `of=${file}`, `bs=${bs}`, `count=${count}`, 'oflag=direct', 'conv=notrunc'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.pid!;
}

/** Runs a TypeScript module (ESM, top-level await) in its own node process. */
function runScript(code: string) {
  const script = path.join(dir, `script-${process.hrtime.bigint()}.mts`);
  fs.writeFileSync(script, code);
  return spawnSync(process.execPath, [path.join(root, 'bin', 'bpfkit-node.mjs'), script], { encoding: 'utf8', timeout: 30000 });
}

interface Line { time: number; comm: string; pid: number; disk: string; t: string; sector: number; bytes: number; rest: string[] }

function parse(out: string): { header: string; lines: Line[] } {
  const all = out.split('\n').filter(Boolean);
  const lines = all.slice(1).map(l => {
    const f = l.trim().split(/\s+/);
    return { time: +f[0], comm: f[1], pid: +f[2], disk: f[3], t: f[4], sector: +f[5], bytes: +f[6], rest: f.slice(7) };
  });
  return { header: all[0], lines };
}

/**
 * Runs the tool around `work` (which returns the PID doing the I/O), stops it with Ctrl-C and returns
 * what it printed. On this VM the kernel now and then fires no block tracepoint at all for a burst of
 * completions (measured: 1 to 31 of 200 direct writes missing in ~4 % of runs, for tracepoint, raw_tp
 * and tp_btf programs and block_io_done alike, while /proc/diskstats counts every one), so a run that
 * shows fewer than `want` lines from that PID is run again, up to 3 times in all.
 */
async function traced(args: string[], work: () => number, want = N) {
  let r: { out: string; err: string; code: number | null; pid: number } | undefined;
  const json = args.includes('--json');
  const seen = (x: typeof r) => (json
    ? x!.out.trim().split('\n').filter(Boolean).map(l => JSON.parse(l)).filter(d => d.pid === x!.pid && onFile(d.sector))
    : parse(x!.out).lines.filter(l => l.pid === x!.pid && onFile(l.sector))).length;
  for (let attempt = 0; attempt < 3 && (!r || seen(r) < want); attempt++) {
    const t = startTool('biosnoop', args);
    let pid = 0;
    try {
      if (json) {
        // No header in JSON mode: the banner on stderr says it is attached.
        for (let i = 0; i < 200 && !t.stderr().includes('Hit Ctrl-C'); i++) await sleep(100);
      } else {
        await ready(t, /LAT\(ms\)/);
      }
      pid = work();
      await sleep(300);
    } finally {
      await t.stop('SIGINT');
    }
    r = { out: t.stdout(), err: t.stderr(), code: await t.exited, pid };
  }
  return r!;
}

describe('biosnoop', () => {
  test('N direct writes by dd: N lines with its COMM and PID, vda, W, the block size', async () => {
    const { out, code, pid } = await traced([], () => directWrites(N));
    expect(code).toBe(0);
    const { header, lines } = parse(out);
    expect(header).toBe('TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  LAT(ms)');
    const ours = lines.filter(l => l.pid === pid && onFile(l.sector));
    expect(ours.length).toBe(N);
    for (const l of ours) {
      expect(l).toMatchObject({ comm: 'dd', disk: 'vda', t: 'W', bytes: 4096 });
      expect(l.rest).toHaveLength(1);
      expect(l.rest[0]).toMatch(/^\d+\.\d\d$/);
    }
    // Sequential overwrites: consecutive sectors, 8 apart (but where ext4 split the file's extent).
    const steps = ours.slice(1).filter((l, i) => l.sector === ours[i].sector + 8).length;
    expect(steps).toBeGreaterThanOrEqual(N - 3);
    // Columns are BCC's fixed widths.
    const first = out.split('\n').find(l => / dd +\d+ /.test(l))!;
    expect(first).toMatch(/^\d+\.\d{6} +dd {13}\d+ +vda {7}W \d+ +4096 {4}( *\d+\.\d\d)$/);
    expect(lines[0].time).toBe(0); // TIME(s) counts from the first I/O seen
  });

  test('-Q -d vda with 64 KiB writes: a QUE(ms) column, BYTES 65536', async () => {
    const { out, pid } = await traced(['-Q', '-d', 'vda'], () => directWrites(20, 65536), 20);
    const { header, lines } = parse(out);
    expect(header).toBe('TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  QUE(ms) LAT(ms)');
    const ours = lines.filter(l => l.pid === pid && onFile(l.sector));
    expect(ours.length).toBe(20);
    for (const l of ours) {
      expect(l).toMatchObject({ comm: 'dd', disk: 'vda', t: 'W', bytes: 65536 });
      expect(l.rest).toHaveLength(2);
      expect(+l.rest[0]).toBeGreaterThanOrEqual(0);
    }
    expect(lines.every(l => l.disk === 'vda')).toBe(true);
  });

  test('-P: sequential overwrites show as S after the first', async () => {
    const { out, pid } = await traced(['-P'], () => directWrites(N));
    const { header, lines } = parse(out);
    expect(header).toBe('TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  P LAT(ms)');
    const ours = lines.filter(l => l.pid === pid && onFile(l.sector));
    expect(ours.length).toBe(N);
    // Other writers (the journal) may interleave on vda and make a few R(andom); most are S.
    expect(ours.filter(l => l.rest[0] === 'S').length).toBeGreaterThanOrEqual(N - 5);
  });

  test('--json: one object per I/O', async () => {
    const { out, pid } = await traced(['--json'], () => directWrites(N));
    const docs = out.trim().split('\n').map(l => JSON.parse(l));
    const ours = docs.filter(d => d.pid === pid && onFile(d.sector));
    expect(ours.length).toBe(N);
    for (const d of ours) {
      expect(d).toMatchObject({ tool: 'biosnoop', kind: 'event', comm: 'dd', disk: 'vda', rw: 'W', bytes: 4096 });
      expect(d.rwbs).toMatch(/^W/);
      expect(typeof d.sector).toBe('number');
      expect(d.latency_ms).toBeGreaterThan(0);
    }
  });

  const cg = '/sys/fs/cgroup/unified';
  (fs.existsSync(`${cg}/cgroup.procs`) ? test : test.skip)('-c CGROUP: only I/O from processes in that cgroup', async () => {
    const mine = fs.mkdtempSync(`${cg}/bpfkit-biosnoop-`);
    try {
      // sh moves itself into the cgroup, then becomes dd.
      const inCgroup = ['sh', '-c', `echo $$ > ${mine}/cgroup.procs && exec "$@"`, 'sh'];
      const { out, pid } = await traced(['-c', mine], () => directWrites(N, 4096, inCgroup));
      const { lines } = parse(out);
      expect(lines.filter(l => l.pid === pid && onFile(l.sector)).length).toBe(N);
      expect(lines.every(l => l.pid === pid)).toBe(true);
    } finally {
      for (let i = 0; i < 20 && fs.existsSync(mine); i++) {
        try {
          fs.rmdirSync(mine);
        } catch {
          await sleep(100); // the exited dd may take a moment to leave the cgroup
        }
      }
    }
  });

  test('a duration positional, as libbpf-tools (biosnoop 3): traces that long, then exits 0 by itself', async () => {
    const t = startTool('biosnoop', ['3']);
    await ready(t, /LAT\(ms\)/);
    const pid = directWrites(5);
    expect(await t.exited).toBe(0);
    const rows = t.stdout().split('\n').filter(l => l.split(/\s+/)[2] === String(pid) && onFile(+l.split(/\s+/)[5]));
    expect(rows.length).toBe(5); // attached before the header: every direct write
    expect(rows.every(l => / dd +\d+ +vda +W /.test(l))).toBe(true);
  });

  test('bad input: exit 2 and one line with the reason', () => {
    const cases: [string[], RegExp][] = [
      [['--nosuch'], /Unknown argument/i],
      [['5', '6'], /(Unknown|unexpected) argument: 6/],
      [['-d', 'nosuchdisk'], /no such disk 'nosuchdisk'/],
      [['-c', '/nonexistent/cgroup'], /invalid cgroup: '\/nonexistent\/cgroup' \(no such directory\)/],
      [['-c', '/tmp'], /invalid cgroup: '\/tmp' \(not a cgroup v2 directory/],
    ];
    for (const [args, re] of cases) {
      const r = runTool('biosnoop', args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(new RegExp(`^biosnoop: [^\n]*${re.source}[^\n]*\n$`));
      expect(r.stdout).toBe('');
    }
  });

  test('the tp_btf twins (taken where the kernel has module BTF) see the same I/O', () => {
    // The tool's program loaded with its raw_tp programs disabled (here raw_tp is taken: lib/bpf.ts rank()), in a child process (lib/libbpf's
    // koffi types are per process, and Jest gives each test file fresh modules in one process).
    const r = runScript(`
      (globalThis as { __bpfkitCatalogue?: boolean }).__bpfkitCatalogue = true; // define the tool, don't run it
      const { spawnSync } = await import('node:child_process');
      const { BPF } = await import('${root}/lib/bpf.ts');
      const { definedTools } = await import('${root}/lib/cli/index.ts');
      await import('${root}/tools/disk/biosnoop.ts');
      const spec = definedTools().find(t => t.name === 'biosnoop')!;
      const rawProgs = [...spec.program.matchAll(/BTF_TRACEPOINT_PROBE\\(\\w+, (\\w+),/g)].map(m => m[1] + '_raw');
      const bpf = BPF.load({ text: spec.program, name: 'biosnoop', disable: [...rawProgs, 'rq_insert_btf'] });
      bpf.attachAll();
      const extents: [number, number][] = ${JSON.stringify(extents)};
      let seen: { pid: number; comm: string; len: number; sector: number }[] = [];
      bpf.events<{ pid: number; comm: string; len: number; sector: number }>('events', 'event', e => seen.push({ pid: e.pid, comm: e.comm, len: e.len, sector: Number(e.sector) }));
      let ours: typeof seen = [];
      for (let attempt = 0; attempt < 3 && ours.length < ${N}; attempt++) { // see traced()
        seen = [];
        const dd = spawnSync('dd', ['if=/dev/zero', 'of=${file}', 'bs=4096', 'count=${N}', 'oflag=direct', 'conv=notrunc']);
        await new Promise(res => setTimeout(res, 300));
        ours = seen.filter(e => e.pid === dd.pid && extents.some(([lo, end]) => e.sector >= lo && e.sector < end));
      }
      const sections = [...bpf.programs.values()].filter(p => p.loaded).map(p => p.section).sort();
      bpf.close();
      console.log(JSON.stringify({ sections, ours }));
    `);
    if (r.status !== 0) throw new Error(`the script failed (${r.status}):\n${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(res.sections).toEqual(['tp_btf/block_io_start', 'tp_btf/block_rq_complete', 'tp_btf/block_rq_issue']);
    expect(res.ours.length).toBe(N);
    expect(res.ours.every((e: { comm: string; len: number }) => e.comm === 'dd' && e.len === 4096)).toBe(true);
  });
});
