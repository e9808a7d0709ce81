// loads on the real kernel: every load average it reads from avenrun is one /proc/loadavg showed
// while it ran (the kernel formats the same avenrun there, to 2 decimals and rounded; avenrun changes
// every 5 s, so polling /proc/loadavg every few ms sees each value it takes).
import fs from 'node:fs';
import { expectUsageErrors, startTool, type Running } from './helpers.js';

/** /proc/loadavg's formatting of one avenrun value (fs/proc/loadavg.c: LOAD_INT/LOAD_FRAC of a + FIXED_1/200). */
function procFormat(raw: number): string {
  const a = raw + Math.floor(2048 / 200);
  return `${a >> 11}.${String(((a & 2047) * 100) >> 11).padStart(2, '0')}`;
}

/** Runs the tools while polling /proc/loadavg; the three averages of every reading seen meanwhile. */
async function withLoadavgSeen(tools: Running[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const poll = () => seen.add(fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '));
  poll();
  const timer = setInterval(poll, 5);
  try {
    expect(await Promise.all(tools.map(t => t.exited))).toEqual(tools.map(() => 0));
  } finally {
    clearInterval(timer);
    poll();
  }
  return seen;
}

test('--json 1 3 and 1 2: each reading is a /proc/loadavg of the same moments; text is bpftrace\'s', async () => {
  const j = startTool('loads', ['--json', '1', '3']);
  const t = startTool('loads', ['1', '2']);
  const seen = await withLoadavgSeen([j, t]);
  const records = j.stdout().trim().split('\n').map(l => JSON.parse(l));
  expect(records).toHaveLength(3);
  for (const r of records) {
    expect(r).toMatchObject({ tool: 'loads', kind: 'counts', rows: [{ load1: expect.any(Number), load5: expect.any(Number), load15: expect.any(Number) }] });
    const { load1, load5, load15 } = r.rows[0];
    const formatted = [load1, load5, load15].map(v => procFormat(Math.round(v * 2048))).join(' ');
    expect({ formatted, seen: [...seen] }).toEqual({ formatted, seen: expect.arrayContaining([formatted]) });
  }
  const lines = t.stdout().split('\n');
  expect(lines[0]).toBe('Reading load averages... Hit Ctrl-C to end.');
  const readings = lines.slice(1).filter(Boolean);
  expect(readings).toHaveLength(2);
  for (const line of readings) {
    const m = /^\d\d:\d\d:\d\d load averages: (\d+\.\d{3}) (\d+\.\d{3}) (\d+\.\d{3})$/.exec(line);
    expect(m).not.toBeNull();
    // three truncated decimals vs two rounded: within 0.006 of one /proc/loadavg reading seen
    const close = [...seen].some(s => s.split(' ').every((v, i) => Math.abs(Number(v) - Number(m![i + 1])) <= 0.006));
    expect({ line, seen: [...seen], close }).toEqual({ line, seen: [...seen], close: true });
  }
});

test('Ctrl-C ends it with exit 0; bad input: one line, exit 2', async () => {
  const t = startTool('loads');
  await t.waitFor(/load averages: /);
  expect(await t.stop()).toBe(0);
  expectUsageErrors('loads', [['0'], ['x'], ['1', '0'], ['1', '2', '3'], ['--nosuch']]);
});
