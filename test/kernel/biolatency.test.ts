// biolatency on the real kernel: direct-I/O writes of known count land in the histogram, in BCC's
// format; -D/-m/-e/-T/-F/-j/-d and interval/count; bad input; and a side-by-side run with
// libbpf-tools' biolatency on the same workload.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { root, runTool, sleep, startTool, type Running } from './helpers.js';

const N = 200;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync('/var/tmp/bpfkit-biolatency-'); // on vda (/tmp may be elsewhere)
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** N direct-I/O writes of bs bytes: each is one request to the disk (no page cache, no merging). */
function directWrites(count: number, bs = 4096) {
  const r = spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'direct.dat')}`, `bs=${bs}`, `count=${count}`, 'oflag=direct'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
}

interface Row { low: number; high: number; count: number }

/** Runs a TypeScript module (ESM, top-level await) in its own node process. */
function runScript(code: string) {
  const file = path.join(dir, `script-${process.hrtime.bigint()}.mts`);
  fs.writeFileSync(file, code);
  return spawnSync(process.execPath, [path.join(root, 'bin', 'bpfkit-node.mjs'), file], { encoding: 'utf8', timeout: 30000 });
}

/** Parses BCC's (and libbpf-tools') log2 histogram rows. */
function rows(text: string): Row[] {
  return [...text.matchAll(/^ *(\d+) -> (\d+) +: (\d+) +\|[*+ ]*\|$/gm)].map(m => ({ low: +m[1], high: +m[2], count: +m[3] }));
}
const total = (text: string) => rows(text).reduce((a, r) => a + r.count, 0);
/** Sum of the counts in JSON histogram records (sectioned or not). */
const jsonTotal = (text: string) => text.trim().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l))
  .reduce((a, r) => a + (r.sections ? r.sections.reduce((b: number, s: { total: number }) => b + s.total, 0) : r.total), 0);

/** Polls until `cond` holds (the tools' banners may be on stdout or, in JSON mode, stderr). */
async function until(cond: () => boolean, what: string, ms = 20000) {
  for (const end = Date.now() + ms; !cond(); await sleep(50)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

const attached = (r: Pick<Running, 'stdout' | 'stderr'>) => until(() => /Hit Ctrl-C to end/.test(r.stdout() + r.stderr()), 'the banner');

/**
 * Runs the tool around `work`, stops it with Ctrl-C and returns what it printed. On this VM the kernel
 * now and then fires no block tracepoint at all for a burst of completions (measured: 1 to 31 of 200
 * direct writes missing in ~4 % of runs, for tracepoint, raw_tp and tp_btf programs and block_io_done
 * alike, while /proc/diskstats counts every one), so a run that `enough` finds short is run again,
 * up to 3 times in all.
 */
async function traced(args: string[], work: () => void, enough: (out: string) => boolean = () => true) {
  let r: { out: string; err: string; code: number | null } | undefined;
  for (let attempt = 0; attempt < 3 && (!r || !enough(r.out)); attempt++) {
    const t = startTool('biolatency', args);
    try {
      await attached(t);
      work();
      await sleep(100);
    } finally {
      await t.stop('SIGINT');
    }
    r = { out: t.stdout(), err: t.stderr(), code: await t.exited };
  }
  return r!;
}

/** The parts of helpers' Running that these tests use, for a child started here. */
function trackChild(child: ChildProcess): Pick<Running, 'stdout' | 'stderr' | 'stop'> {
  let out = '';
  let err = '';
  child.stdout!.on('data', d => (out += d));
  child.stderr!.on('data', d => (err += d));
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
  return {
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

describe('biolatency', () => {
  test('counts direct-I/O writes, prints BCC\'s histogram, exits 0 on Ctrl-C', async () => {
    const { out, code } = await traced([], () => directWrites(N), o => total(o) >= N);
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toBe('Tracing block device I/O... Hit Ctrl-C to end.');
    expect(lines[1]).toBe(''); // BCC prints a blank line before each histogram
    expect(lines[2]).toBe('     usecs               : count     distribution');
    const r = rows(out);
    expect(r[0]).toEqual(expect.objectContaining({ low: 0, high: 1 })); // rows start at slot 1, as BCC's
    for (let i = 1; i < r.length; i++) expect(r[i].low).toBe(r[i - 1].high + 1);
    expect(total(out)).toBeGreaterThanOrEqual(N); // ours plus the journal's and anyone else's I/O
    expect(out).toContain('|****************************************|'); // the fullest row
  });

  test('-D -m -e -T: a "disk = vda" section in msecs, a time stamp and the extension line', async () => {
    const { out, code } = await traced(['-D', '-m', '-e', '-T'], () => directWrites(N), o => total(o) >= N);
    expect(code).toBe(0);
    expect(out).toMatch(/\n\n\d\d:\d\d:\d\d\n\ndisk = vda\n     msecs               : count     distribution\n/);
    const vda = out.split('disk = vda\n')[1].split('\ndisk = ')[0];
    expect(total(vda)).toBeGreaterThanOrEqual(N);
    const ext = /\navg = (\d+) msecs, total: (\d+) msecs, count: (\d+)\n\n/.exec(out);
    expect(ext).not.toBeNull();
    // Every I/O is counted in both; the two maps are read a moment apart, so a late one may be in one only.
    expect(Math.abs(+ext![3] - total(out))).toBeLessThanOrEqual(5);
    expect(+ext![1]).toBe(Math.floor(+ext![2] / +ext![3]));
  });

  test('-F: sections named by BCC\'s flag names; our O_DIRECT writes are synchronous writes', async () => {
    const names = (out: string) => [...out.matchAll(/^flags = (.*)$/gm)].map(m => m[1]);
    const syncWrites = (out: string) => names(out).filter(n => /Sync-Write$/.test(n))
      .reduce((a, n) => a + total(out.split(`flags = ${n}\n`)[1].split('\nflags = ')[0]), 0);
    const { out } = await traced(['-F'], () => directWrites(N), o => syncWrites(o) >= N);
    expect(names(out).length).toBeGreaterThan(0);
    for (const n of names(out)) expect(n).toMatch(/^([A-Z][A-Za-z]*-)*(Read|Write|Flush|Discard|SecureErase|ZoneAppend|WriteZeros|Zone\w+|Drv\w+|Unknown)$/);
    expect(syncWrites(out)).toBeGreaterThanOrEqual(N);
  });

  test('-j / --json: one histogram record per interval (docs/json.md), sections per disk with -D', async () => {
    const { out, err } = await traced(['-j', '-D'], () => directWrites(N), o => o.includes('"key":"vda"') && jsonTotal(o) >= N);
    expect(err).toContain('Hit Ctrl-C'); // the banner goes to stderr: stdout is only JSON
    const records = out.trim().split('\n').map(l => JSON.parse(l));
    expect(records.map(validateRecord)).toEqual(records.map(() => []));
    expect(records[0]).toMatchObject({ tool: 'biolatency', kind: 'histogram', val_type: 'usecs', scale: 'log2', section_by: 'disk' });
    const vda = records[0].sections.find((s: { key: string }) => s.key === 'vda');
    expect(vda.buckets[0]).toEqual({ start: 0, end: 1, count: expect.any(Number) });
    expect(vda.total).toBeGreaterThanOrEqual(N);
    const { out: out2 } = await traced(['--json', '-e'], () => directWrites(10));
    const plain = JSON.parse(out2.trim().split('\n')[0]);
    expect(Object.keys(plain)).toEqual(['time', 'tool', 'kind', 'val_type', 'scale', 'buckets', 'total', 'summary']);
    expect(plain.summary.count).toBeGreaterThanOrEqual(10); // read apart from the histogram: not exactly its total
    expect(plain.summary.average).toBeGreaterThan(0);
  });

  test('interval and count: "-d vda 1 2" prints two histograms and exits by itself', async () => {
    // Direct writes until the tool is done, so that both intervals see some I/O however late it starts.
    const writer = spawn('sh', ['-c', `while :; do dd if=/dev/zero of=${dir}/bg.dat bs=4096 count=20 oflag=direct 2>/dev/null; sleep 0.2; done`]);
    try {
      // exits by itself: code 0, not the null of a run killed at the (hang-guard) timeout
      const r = runTool('biolatency', ['-d', 'vda', '1', '2'], { timeoutMs: 60000 });
      expect(r.code).toBe(0);
      expect(r.stdout.match(/^     usecs {15}: count {5}distribution$/gm)?.length).toBe(2);
    } finally {
      writer.kill();
    }
  });

  test('bad input: one line on stderr (and the usual hint), exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['--nosuch'], /Unknown argument/i],
      [['abc'], /invalid interval: 'abc'/],
      [['1', '2', '3'], /(Unknown|unexpected) argument: 3/],
      [['-D', '-F'], /ERROR: can only use -D or -F\. Exiting\./],
      [['-d', 'nosuchdisk'], /no such disk 'nosuchdisk'/],
      [['0'], /invalid interval: '0'/],
    ];
    for (const [args, re] of cases) {
      const r = runTool('biolatency', args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.split('\n')[0]).toMatch(re);
      expect(r.stdout).toBe('');
    }
  });

  test('conformance: same totals as libbpf-tools biolatency on the same workload', async () => {
    // Both count every request completed on every disk while they run. They are started and stopped
    // together, so other I/O (the ext4 journal, logs) mostly lands in both windows; the tolerance
    // allows for what slips into one window only: 10 requests or 5 %, whichever is larger.
    // libbpf-tools' stdout is a pipe here, so its banner is block-buffered: stdbuf makes it line-buffered.
    // (Like every test here, a run in which the kernel skipped tracepoints is repeated: see traced(); so
    // is one where other I/O fell into one window only, beyond the tolerance.)
    const n = 500;
    let a = 0;
    let b = 0;
    const agree = () => a >= n && b >= n && Math.abs(a - b) <= Math.max(10, 0.05 * b);
    for (let attempt = 0; attempt < 3 && !agree(); attempt++) {
      const ours = startTool('biolatency', []);
      const ref = trackChild(spawn('stdbuf', ['-oL', '/usr/sbin/biolatency'], { stdio: ['ignore', 'pipe', 'pipe'] }));
      try {
        await Promise.all([attached(ours), attached(ref)]);
        directWrites(n);
        await sleep(200);
      } finally {
        await Promise.all([ours.stop('SIGINT'), ref.stop('SIGINT')]);
      }
      a = total(ours.stdout());
      b = total(ref.stdout());
    }
    expect(a).toBeGreaterThanOrEqual(n);
    expect(b).toBeGreaterThanOrEqual(n);
    expect(Math.abs(a - b)).toBeLessThanOrEqual(Math.max(10, 0.05 * b));
  });

  test('the tp_btf twins (taken where the kernel has module BTF) count the same I/O', () => {
    // The tool's program loaded with its raw_tp programs disabled (here raw_tp is taken: lib/bpf.ts rank()), in a child process (lib/libbpf's
    // koffi types are per process, and Jest gives each test file fresh modules in one process).
    const r = runScript(`
      (globalThis as { __bpfkitCatalogue?: boolean }).__bpfkitCatalogue = true; // define the tool, don't run it
      const { spawnSync } = await import('node:child_process');
      const { BPF } = await import('${root}/lib/bpf.ts');
      const { definedTools } = await import('${root}/lib/cli/index.ts');
      const { blockDeviceByName } = await import('${root}/lib/host/disks.ts');
      await import('${root}/tools/disk/biolatency.ts');
      const spec = definedTools().find(t => t.name === 'biolatency')!;
      const rawProgs = [...spec.program.matchAll(/BTF_TRACEPOINT_PROBE\\(\\w+, (\\w+),/g)].map(m => m[1] + '_raw');
      const bpf = BPF.load({
        text: spec.program, name: 'biolatency', rodata: { targ_per_disk: true },
        disable: [...rawProgs, 'io_start_btf', 'rq_insert_btf'],
      });
      bpf.attachAll();
      let count = -1;
      for (let attempt = 0; attempt < 3 && count < ${N}; attempt++) { // see traced()
        spawnSync('dd', ['if=/dev/zero', 'of=${dir}/raw.dat', 'bs=4096', 'count=${N}', 'oflag=direct']);
        const vda = bpf.histogram('dist_disk').read(true).sections.find(s => s.raw === blockDeviceByName('vda')!.dev);
        count = vda ? vda.slots.reduce((a, b) => a + b, 0) : -1;
      }
      const sections = [...bpf.programs.values()].filter(p => p.loaded).map(p => p.section).sort();
      bpf.close();
      console.log(JSON.stringify({ sections, vda: count }));
    `);
    if (r.status !== 0) throw new Error(`the script failed (${r.status}):\n${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(res.sections).toEqual(['tp_btf/block_rq_complete', 'tp_btf/block_rq_issue']);
    expect(res.vda).toBeGreaterThanOrEqual(N);
  });
});
