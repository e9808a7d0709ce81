// tplist against this machine's tracefs and python3.11: second sources are the format file read
// line by line and readelf's notes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tracefsDir } from '../../lib/compile/tracepoints.js';
import { validateRecord } from '../../lib/output/index.js';
import { expectUsageErrors, runTool, waitUntil } from './helpers.js';

const python = '/usr/bin/python3.11';

/** readelf -n: "provider:name" of every USDT note, each once. */
function readelfProbes(file: string): string[] {
  const text = spawnSync('readelf', ['-n', file], { encoding: 'utf8' }).stdout;
  return [...new Set([...text.matchAll(/Provider: (\S+)\n\s+Name: (\S+)/g)].map(m => `${m[1]}:${m[2]}`))].sort();
}

test('tracepoints matching a pattern; -v: sched:sched_switch with the fields of its format file', () => {
  const r = runTool('tplist', ['-v', 'sched:sched_switch']);
  expect(r.code).toBe(0);
  const format = fs.readFileSync(`${tracefsDir()}/events/sched/sched_switch/format`, 'utf8');
  const fields = [...format.matchAll(/field:([^;]+);/g)].map(m => m[1]!.trim()).filter(f => !/\bcommon_\w+$/.test(f));
  expect(fields).toContain('pid_t next_pid');
  expect(r.stdout).toBe(['sched:sched_switch', ...fields.map(f => `    ${f};`)].join('\n') + '\n');

  const all = runTool('tplist', ['sched:*']).stdout.trim().split('\n');
  const dir = fs.readdirSync(`${tracefsDir()}/events/sched`, { withFileTypes: true }).filter(d => d.isDirectory()).map(d => `sched:${d.name}`).sort();
  expect(all).toEqual(dir);
});

test('-l: python3.11\'s USDT probes, the same as readelf\'s notes; -v and -vv details', () => {
  const r = runTool('tplist', ['-l', python]);
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n').map(l => l.split(' ')[1]).sort()).toEqual(readelfProbes(python));
  expect(r.stdout).toContain(`${python} python:function__entry\n`);

  const v = runTool('tplist', ['-l', python, '-v', 'python:function__entry']);
  expect(v.stdout).toMatch(new RegExp(`^${python} python:function__entry \\[sema 0x[0-9a-f]+\\]\\n  1 location\\(s\\)\\n  3 argument\\(s\\)\\n$`));
  const vv = runTool('tplist', ['-l', python, '-vv', 'python:function__entry']);
  // readelf: "Arguments: 8@%rbp 8@%r12 -4@%eax" for this build; sizes and signs come from the note
  const notes = spawnSync('readelf', ['-n', python], { encoding: 'utf8' }).stdout;
  const argText = /Name: function__entry\n\s+Location: (0x[0-9a-f]+).*\n\s+Arguments: (.*)/.exec(notes)!;
  const expected = argText[2]!.trim().split(/\s+/).map((a, i) => {
    const [, sign, size, reg] = /^(-?)(\d+)@%(\w+)$/.exec(a)!;
    return `    argument #${i + 1} ${size} ${sign ? '  signed' : 'unsigned'} bytes @ %${reg}`;
  });
  expect(vv.stdout.split('\n').slice(1, 2 + expected.length)).toEqual([`  location #1 ${python} 0x${BigInt(argText[1]!).toString(16)}`, ...expected]);
});

test('-p PID: the probes of every file the process has mapped', async () => {
  const child = spawn(python, ['-c', 'import time; time.sleep(30)']);
  try {
    await waitUntil(() => fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8').includes(python), 'python to start');
    const r = runTool('tplist', ['-p', String(child.pid), 'python:*']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').filter(l => l.startsWith(`${python} `)).map(l => l.split(' ')[1]).sort()).toEqual(readelfProbes(python));
  } finally {
    child.kill();
  }
});

test('--json: one event record per tracepoint or probe', () => {
  const r = runTool('tplist', ['--json', '-v', 'sched:sched_switch']);
  const rec = JSON.parse(r.stdout);
  expect(rec).toMatchObject({ tool: 'tplist', kind: 'event', tracepoint: 'sched:sched_switch' });
  expect(rec.fields.map((f: { decl: string }) => f.decl)).toContain('pid_t next_pid');
  expect(validateRecord(rec)).toEqual([]);
  const u = JSON.parse(runTool('tplist', ['--json', '-l', python, 'python:line']).stdout);
  expect(u).toMatchObject({ binary: python, provider: 'python', probe: 'line', locations: [{ arguments: expect.any(Array) }] });
  expect(validateRecord(u)).toEqual([]);
});

test('bad input: one line, exit 2', () => {
  expectUsageErrors('tplist', [['-l', 'nosuchlib_bpfkit'], ['-p', '999999999'], ['a', 'b']]);
  expect(runTool('tplist', ['-l', 'nosuchlib_bpfkit']).stderr).toBe("tplist: cannot find library or binary 'nosuchlib_bpfkit'\n");
});
