// softirqslower on the real kernel: with a threshold of 0 every softirq is reported, so the NET_RX
// runs of loopback datagrams and the BLOCK runs of O_DIRECT reads are counted as /proc/softirqs counts
// them (bracketed: see irq-work.ts); every raise-to-entry line follows a raise, so there are at most
// as many as runs. With a threshold, no line is under it; -c keeps one CPU's.
import fs from 'node:fs';
import { expectRefusedUnprivileged, expectUsageErrors, runTool, startTool, tmpDir, untilAttached, type Running } from './helpers.js';
import { directReads, inner, loopbackDatagrams, outer, procSoftirqs, type Bracket } from './irq-work.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Line { stage: string; softirq: string; lat: number; cpu: number; comm: string }

/** The event lines: TIME STAGE SOFTIRQ LAT(us) CPU COMM. */
const lines = (t: Running): Line[] => [...t.stdout().matchAll(/^\d\d:\d\d:\d\d (irq\(hard\) to softirq|softirq runtime) +(\w+) +(\d+) +(\d+) +(.*)$/gm)]
  .map(m => ({ stage: m[1], softirq: m[2], lat: Number(m[3]), cpu: Number(m[4]), comm: m[5] }));

async function traced(tracers: Running[], work: () => void): Promise<Bracket> {
  const before = procSoftirqs();
  await Promise.all(tracers.map(t => t.waitFor(/Hit Ctrl-C/)));
  await untilAttached(tracers);
  const attached = procSoftirqs();
  work();
  const stopping = procSoftirqs();
  expect(await Promise.all(tracers.map(t => t.stop()))).toEqual(tracers.map(() => 0));
  return { before, attached, stopping, after: procSoftirqs() };
}

test('threshold 0: one runtime line per net_rx and block softirq /proc/softirqs counts; raise-to-entry lines at most as many', async () => {
  const t = startTool('softirqslower', ['0']);
  const b = await traced([t], () => { loopbackDatagrams(2000); directReads(dir, 1024); });
  expect(t.stdout().split('\n').slice(0, 2)).toEqual(['Tracing softirq latency higher than 0 us... Hit Ctrl-C to end.', 'TIME     STAGE                SOFTIRQ  LAT(us)        CPU    COMM']);
  expect(t.stderr()).toBe(''); // no lost events
  const all = lines(t);
  for (const vec of ['net_rx', 'block']) {
    const runs = all.filter(l => l.softirq === vec && l.stage === 'softirq runtime').length;
    const raises = all.filter(l => l.softirq === vec && l.stage === 'irq(hard) to softirq').length;
    console.log(`softirqslower 0: ${vec} ${runs} runs, ${raises} raise-to-entry, /proc/softirqs ${inner(b, vec)}..${outer(b, vec)}`);
    // the runs the kernel counts, within softirqs -d's slack (its times are entry to exit too, as these
    // runtimes are): block came up to 1.3 % under /proc/softirqs there, libbpf-tools' by the same events
    // (softirqs.test.ts); once on CI here, 2,048 of 2,058: the reads' 2,048, none of the background ten
    expect(runs).toBeGreaterThanOrEqual(Math.floor(inner(b, vec) * 0.97) - 1);
    expect(runs).toBeLessThanOrEqual(outer(b, vec));
    expect(raises).toBeGreaterThan(0);
    expect(raises).toBeLessThanOrEqual(runs + 1);
  }
  expect(inner(b, 'net_rx')).toBeGreaterThanOrEqual(2000);
});

test('a threshold keeps only slower lines; -c CPU only that CPU; --json events', async () => {
  const slow = startTool('softirqslower', ['50']);
  const cpu1 = startTool('softirqslower', ['-c', '1', '0']);
  const json = startTool('softirqslower', ['--json', '0']);
  await untilAttached([json]);
  await traced([slow, cpu1], () => { loopbackDatagrams(500); directReads(dir, 512); });
  expect(await json.stop()).toBe(0);
  for (const l of lines(slow)) expect(l.lat).toBeGreaterThanOrEqual(50);
  expect(lines(cpu1).length).toBeGreaterThan(0);
  expect(new Set(lines(cpu1).map(l => l.cpu))).toEqual(new Set([1]));
  const recs = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(recs.length).toBeGreaterThan(0);
  expect(recs[0]).toMatchObject({ tool: 'softirqslower', kind: 'event' });
  expect(Object.keys(recs[0])).toEqual(expect.arrayContaining(['stage', 'softirq', 'lat_us', 'cpu', 'comm']));
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('softirqslower', [['--bogus'], ['x'], ['-1'], ['-c', '99'], ['-c', 'x'], ['1', '2']]);
  expectRefusedUnprivileged('softirqslower');
});
