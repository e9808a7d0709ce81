// hardirqs on the real kernel: disk interrupts caused by O_DIRECT reads, counted as the kernel counts
// them in /proc/interrupts (bracketed: see irq-work.ts), and as libbpf-tools hardirqs counts them.
// The timer (LOC), IPIs and other vectors are not irq handlers and appear in neither.
import fs from 'node:fs';
import { bpfFdsOf, expectRefusedUnprivileged, expectUsageErrors, missedEvents, runTool, startReference, startTool, tmpDir, unloaded, untilAttached, type Running } from './helpers.js';
import { directReads, inner, kernelCountedAtLeast, outer, procInterrupts, type Bracket, type Counters } from './irq-work.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The handler of the root disk's interrupts: the one whose count grows most under our reads. */
function diskIrq(): string {
  const from = procInterrupts();
  directReads(dir, 512);
  const to = procInterrupts();
  return [...to.keys()].sort((a, b) => (to.get(b)! - from.get(b)!) - (to.get(a)! - from.get(a)!))[0];
}

/** Runs tracers over `reads` direct reads, reading /proc/interrupts around them (the bracket): `before` was read before they were started. */
async function traced(before: Counters, tracers: Running[], reads: number): Promise<Bracket> {
  await Promise.all(tracers.map(t => t.waitFor(/Hit Ctrl-C/)));
  await untilAttached(tracers);
  const attached = procInterrupts();
  directReads(dir, reads);
  const stopping = procInterrupts();
  expect(await Promise.all(tracers.map(t => t.stop()))).toEqual(tracers.map(() => 0));
  return { before, attached, stopping, after: procInterrupts() };
}

/**
 * The least the tool may count of `n` interrupts /proc/interrupts counted: as BCC, it leaves out the
 * handler runs that returned IRQ_NONE, which /proc counts (and libbpf-tools too): a virtio queue's
 * interrupt that finds its completions already reaped. This kernel keeps no count of them
 * (/proc/irq/N/spurious stays 0, noirqdebug-like), so the bound allows 10 %. Measured since: the
 * shortfalls seen were not IRQ_NONE runs but the kernel's counter running ahead of the tracepoint
 * (kernelCountedAtLeast), which libbpf-tools' count at entry shows too.
 */
const handledAtLeast = (n: number) => Math.floor(n * 0.9);

/** "NAME  VALUE" rows of the totals table. */
const totals = (text: string) => new Map([...text.matchAll(/^(\S+) +(\d+)$/gm)].map(m => [m[1], Number(m[2])]));

/** The count in each "hardirq = NAME" section of -d. */
function sectionCounts(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text.split(/^hardirq = /m).slice(1)) {
    const name = part.split('\n')[0];
    out.set(name, [...part.matchAll(/: (\d+) +\|/g)].reduce((a, m) => a + Number(m[1]), 0));
  }
  return out;
}

test('-C: the disk interrupts of 4,096 direct reads, as /proc/interrupts counts them; every handler bracketed', async () => {
  const disk = diskIrq();
  const before = procInterrupts();
  const t = startTool('hardirqs', ['-C']);
  const b = await traced(before, [t], 4096);
  const out = t.stdout();
  expect(out.split('\n').slice(0, 3)).toEqual(['Tracing hard irq events... Hit Ctrl-C to end.', '', 'HARDIRQ                    TOTAL_count']);
  const counted = totals(out);
  console.log(`hardirqs -C: ${disk} counted ${counted.get(disk)} (missed ${missedEvents(t)}), /proc/interrupts between ${inner(b, disk)} and ${outer(b, disk)}`);
  expect(inner(b, disk)).toBeGreaterThanOrEqual(4000);
  expect(counted.get(disk)).toBeGreaterThanOrEqual(handledAtLeast(inner(b, disk)));
  expect(counted.get(disk)).toBeLessThanOrEqual(outer(b, disk));
  for (const [name, n] of counted) expect([name, n <= outer(b, name)]).toEqual([name, true]);
});

test('-d -T: a histogram per handler whose counts are the same interrupts; default: TOTAL_usecs; Ctrl-C unloads', async () => {
  const disk = diskIrq();
  const before = procInterrupts();
  const dist = startTool('hardirqs', ['-d', '-T']);
  const time = startTool('hardirqs', []);
  await dist.waitFor(/Hit Ctrl-C/);
  const progs = bpfFdsOf(dist.child.pid!).programs;
  expect(progs.length).toBe(2);
  const b = await traced(before, [dist, time], 2048);
  const lines = dist.stdout().split('\n');
  expect(lines.slice(0, 3)).toEqual(['Tracing hard irq event time... Hit Ctrl-C to end.', '', expect.stringMatching(/^\d\d:\d\d:\d\d$/)]);
  expect(dist.stdout()).toContain(`\nhardirq = ${disk}\n     usecs               : count     distribution\n`);
  const n = sectionCounts(dist.stdout()).get(disk)!;
  expect(n).toBeGreaterThanOrEqual(handledAtLeast(inner(b, disk)));
  expect(n).toBeLessThanOrEqual(outer(b, disk));
  expect(time.stdout()).toContain('HARDIRQ                    TOTAL_usecs\n');
  expect(totals(time.stdout()).get(disk)).toBeGreaterThan(0);
  await unloaded(progs);
});

test('-c CPU and --json: only the CPU the disk interrupts on, as counts records', async () => {
  const disk = diskIrq();
  // the CPU whose column of the disk line grows: its interrupts are routed there
  const column = () => fs.readFileSync('/proc/interrupts', 'utf8').split('\n').find(l => l.trim().endsWith(` ${disk}`))!.trim().split(/\s+/).slice(1, 3).map(Number);
  const c0 = column();
  directReads(dir, 256);
  const c1 = column();
  const cpu = c1[0] - c0[0] >= c1[1] - c0[1] ? 0 : 1;
  const [on, off] = [startTool('hardirqs', ['-C', '-c', String(cpu), '--json']), startTool('hardirqs', ['-C', '-c', String(1 - cpu), '--json'])];
  await untilAttached([on, off]);
  directReads(dir, 1024);
  expect(await Promise.all([on.stop(), off.stop()])).toEqual([0, 0]);
  const record = (t: Running) => JSON.parse(t.stdout().trim().split('\n').pop()!);
  const rows = (t: Running) => new Map(record(t).rows.map((r: { hardirq: string; count: number }) => [r.hardirq, r.count]));
  expect(record(on)).toMatchObject({ tool: 'hardirqs', kind: 'counts' });
  expect(rows(on).get(disk)).toBeGreaterThanOrEqual(1000);
  expect(rows(off).get(disk) ?? 0).toBeLessThan(50); // an interrupt moved by irqbalance at most
});

test('conformance: the same disk interrupts as libbpf-tools hardirqs -C, both bracketed by /proc/interrupts', async () => {
  const disk = diskIrq();
  const before = procInterrupts();
  const ours = startTool('hardirqs', ['-C']);
  const theirs = startReference('hardirqs', ['-C']);
  const b = await traced(before, [ours, theirs], 4096);
  const [a, r] = [totals(ours.stdout()).get(disk)!, totals(theirs.stdout()).get(disk)!];
  console.log(`hardirqs conformance: ${disk} bpfkit ${a} (missed ${missedEvents(ours)}), libbpf-tools ${r}, /proc/interrupts ${inner(b, disk)}..${outer(b, disk)}`);
  // libbpf-tools counts at entry, the IRQ_NONE runs too: what /proc/interrupts counts, but see kernelCountedAtLeast
  expect(r).toBeGreaterThanOrEqual(kernelCountedAtLeast(inner(b, disk)));
  expect(r).toBeLessThanOrEqual(outer(b, disk));
  expect(a).toBeGreaterThanOrEqual(handledAtLeast(inner(b, disk)));
  expect(a).toBeLessThanOrEqual(r + (outer(b, disk) - inner(b, disk)));
});

test('bad input: one line and exit 2; unprivileged: one line and exit 1', () => {
  expectUsageErrors('hardirqs', [['--bogus'], ['-C', '-d'], ['-C', '-N'], ['-c', '99'], ['-c', 'x'], ['1', '2', '3'], ['x'], ['1', '0']]);
  expectRefusedUnprivileged('hardirqs');
  expect(runTool('hardirqs', ['-NT', '1', '1']).stdout).toMatch(/\nHARDIRQ +TOTAL_nsecs\n/);
});
