// The shared options, checked across the whole catalogue from the tools' own metadata (`bpfkit
// catalogue`): every tool with a PID option refuses a PID that names no process, and so on. A new
// tool is covered by declaring its options with `opt`, not by writing a test.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root, runTools } from './helpers.js';

interface OptionMeta { alias?: string | string[]; type?: string; meaning?: string }
interface ToolMeta { name: string; positional?: string; options: Record<string, OptionMeta> }

const tools: ToolMeta[] = JSON.parse(spawnSync(path.join(root, 'bin', 'bpfkit'), ['catalogue'], { encoding: 'utf8', timeout: 120000 }).stdout);

/** The option's spelling on a command line: its one-letter alias (-p), else --long-name. */
function flagOf(name: string, o: OptionMeta): string {
  const aliases = o.alias === undefined ? [] : typeof o.alias === 'string' ? [o.alias] : o.alias;
  const short = aliases.find(a => a.length === 1);
  return short ? `-${short}` : `--${name.replace(/[A-Z]/g, c => '-' + c.toLowerCase())}`;
}

/** [tool, flag] for every option of the catalogue with this meaning. */
function withMeaning(meaning: string): [string, string][] {
  return tools.flatMap(t => Object.entries(t.options).filter(([, o]) => o.meaning === meaning).map(([n, o]): [string, string] => [t.name, flagOf(n, o)]));
}

const positionals = (t: ToolMeta): string[] => t.positional?.match(/\w+/g) ?? [];

/** A PID no task has now. */
function unusedPid(): number {
  let pid = 999999;
  while (fs.existsSync(`/proc/${pid}`)) pid++;
  return pid;
}

type UsageCase = [tool: string, args: string[], line: string | RegExp];

/** Each case: exactly one line on stderr (this one), exit 2, nothing on stdout. The runs go a few at a time. */
async function expectUsageCases(cases: UsageCase[]): Promise<void> {
  const results = await runTools(cases.map(([tool, args]) => [tool, args]));
  cases.forEach(([tool, args, line], i) => {
    const r = results[i]!;
    const got = { tool, args, code: r.code, stdout: r.stdout, lines: r.stderr.split('\n').length - 1 };
    expect(got).toEqual({ tool, args, code: 2, stdout: '', lines: 1 });
    if (typeof line === 'string') expect(r.stderr).toBe(`${tool}: ${line}\n`);
    else expect(r.stderr).toMatch(line);
  });
}

test('the catalogue declares the shared options', () => {
  expect(tools.length).toBeGreaterThanOrEqual(9);
  expect(withMeaning('pid').length).toBeGreaterThanOrEqual(5); // execsnoop -P, exitsnoop, opensnoop, runqlat, tcplife
  expect(withMeaning('tid').length).toBeGreaterThanOrEqual(1);
});

test('every PID option: a PID that names no process is one line and exit 2; so is a PID that is not a number', async () => {
  const pid = unusedPid();
  await expectUsageCases(withMeaning('pid').flatMap(([tool, flag]): UsageCase[] => [
    [tool, [flag, String(pid)], `no process with PID ${pid}`],
    [tool, [flag, 'x'], "invalid PID: 'x' (must be a positive integer)"],
    [tool, [flag, '0'], "invalid PID: '0' (must be a positive integer)"],
  ]));
}, 120_000);

test('every TID option: a TID that names no thread is one line and exit 2', async () => {
  const tid = unusedPid();
  await expectUsageCases(withMeaning('tid').flatMap(([tool, flag]): UsageCase[] => [
    [tool, [flag, String(tid)], `no thread with TID ${tid}`],
    [tool, [flag, '-3'], "invalid TID: '-3' (must be a positive integer)"],
  ]));
}, 60_000);

test('a thread given as a PID: names the process it belongs to', async () => {
  // node's own worker threads: /proc/self/task lists them; any but the main one is not a process
  const thread = fs.readdirSync(`/proc/${process.pid}/task`).map(Number).find(t => t !== process.pid);
  expect(thread).toBeDefined();
  const [tool, flag] = withMeaning('pid')[0]!;
  await expectUsageCases([[tool, [flag, String(thread)], `no process with PID ${thread} (${thread} is a thread of PID ${process.pid})`]]);
});

test('every UID option: an unknown user is one line and exit 2', async () => {
  await expectUsageCases(withMeaning('uid').map(([tool, flag]): UsageCase =>
    [tool, [flag, 'no-such-user-bpfkit'], "invalid UID: 'no-such-user-bpfkit' (must be a non-negative integer or a user name)"]));
}, 60_000);

test('every duration, option or positional: 0, -1 and x all get the same wording', async () => {
  const wording = (bad: string) => `invalid duration: '${bad}' (must be a positive number of seconds)`;
  await expectUsageCases([
    ...withMeaning('duration').flatMap(([tool, flag]): UsageCase[] => [
      ...['0', '-1', 'x'].map((bad): UsageCase => [tool, [flag, bad], wording(bad)]),
      [tool, [flag, '5', flag, '0'], wording('0')], // repeated, the last one counts (argparse)
    ]),
    ...tools.filter(t => positionals(t).includes('duration')).flatMap(t => ['0', 'x'].map((bad): UsageCase => [t.name, [bad], wording(bad)])),
  ]);
}, 60_000);

test('every interval/count tool: interval and count must be positive', async () => {
  const intervalTools = tools.filter(t => positionals(t).includes('interval'));
  expect(intervalTools.length).toBeGreaterThanOrEqual(4);
  await expectUsageCases(intervalTools.flatMap((t): UsageCase[] => [
    [t.name, ['0'], "invalid interval: '0' (must be a positive number of seconds)"],
    [t.name, ['x'], "invalid interval: 'x' (must be a positive number of seconds)"],
    ...(positionals(t).includes('count') ? [
      [t.name, ['1', '0'], "invalid count: '0' (must be a positive integer)"],
      [t.name, ['1', '1.5'], "invalid count: '1.5' (must be a positive integer)"],
    ] as UsageCase[] : []),
  ]));
}, 120_000);

test('every cgroup option: a directory that is not cgroup v2, or none, is one line and exit 2', async () => {
  await expectUsageCases(withMeaning('cgroup').flatMap(([tool, flag]): UsageCase[] => [
    [tool, [flag, '/tmp'], "invalid cgroup: '/tmp' (not a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice)"],
    [tool, [flag, '/nonexistent/cg'], "invalid cgroup: '/nonexistent/cg' (no such directory)"],
  ]));
}, 60_000);

test('every disk option: an unknown disk is one line and exit 2, naming the disks there are', async () => {
  await expectUsageCases(withMeaning('disk').map(([tool, flag]): UsageCase =>
    [tool, [flag, 'nosuchdisk0'], /^[a-z]+: no such disk 'nosuchdisk0' \(disks: [^)]+\)\n$/]));
}, 60_000);
