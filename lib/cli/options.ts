// The options tools share, one helper per meaning (PID, TID, UID, duration, interval/count, cgroup,
// disk): BCC's letters, one check and one wording each. A PID or TID that names no task is a usage
// error here, so no tool checks it itself.
import fs from 'node:fs';
import type { Options } from 'yargs';
import { onlineCpus } from '../bpf.js';
import { resolveDisk } from '../host/disks.js';
import { userId } from '../host/users.js';

export class UsageError extends Error {}

/** What an option means, so that checks and tests can find every PID (TID, ...) option of the catalogue. */
export type OptionMeaning = 'pid' | 'tid' | 'uid' | 'duration' | 'cgroup' | 'disk' | 'integer';

export interface ToolOption extends Options {
  meaning?: OptionMeaning;
}

/** A repeated option: yargs gives every value; a coerce for a single value takes the last, as argparse. */
const lastValue = (v: unknown): string => String(Array.isArray(v) ? v[v.length - 1] : v);

export function positiveInt(what: string) {
  return (v: unknown) => {
    if (v === undefined) return undefined;
    const s = lastValue(v);
    if (!/^\d+$/.test(s) || Number(s) <= 0) throw new UsageError(`invalid ${what}: '${s}' (must be a positive integer)`);
    return Number(s);
  };
}

export function nonNegativeInt(what: string) {
  return (v: unknown) => {
    if (v === undefined) return undefined;
    const s = lastValue(v);
    if (!/^\d+$/.test(s)) throw new UsageError(`invalid ${what}: '${s}' (must be a non-negative integer)`);
    return Number(s);
  };
}

/** A number >= 0, fractions allowed (tcpconnlat's minimum milliseconds). */
export function nonNegativeNumber(what: string) {
  return (v: unknown) => {
    if (v === undefined) return undefined;
    const s = lastValue(v);
    if (!/^\d+(\.\d+)?$/.test(s)) throw new UsageError(`invalid ${what}: '${s}' (must be a non-negative number)`);
    return Number(s);
  };
}

function portList(what: string) {
  return (v: unknown): Set<number> | undefined => {
    if (v === undefined) return undefined;
    const ports = new Set<number>();
    for (const p of lastValue(v).split(',')) {
      if (!/^\d+$/.test(p.trim()) || Number(p) > 65535) throw new UsageError(`invalid ${what}: '${p}'`);
      ports.add(Number(p));
    }
    return ports;
  };
}

/** One TCP/UDP port, 1 to 65535 (a filter: 0 would mean none). */
function onePort(what: string) {
  return (v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const s = lastValue(v);
    if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw new UsageError(`invalid ${what}: '${s}' (a port is 1 to 65535)`);
    return Number(s);
  };
}

/** Seconds > 0, fractions allowed: -d, and the interval and duration positionals. */
export function positiveSeconds(what: string) {
  return (v: unknown) => {
    if (v === undefined) return undefined;
    const s = lastValue(v);
    if (!/^\d+(\.\d+)?$/.test(s) || Number(s) <= 0) throw new UsageError(`invalid ${what}: '${s}' (must be a positive number of seconds)`);
    return Number(s);
  };
}

/** The thread-group id in /proc/<id>/status, or undefined when no such task exists. */
function taskTgid(id: number): number | undefined {
  try {
    const m = /^Tgid:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${id}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function existingPid(v: unknown): number | undefined {
  const pid = positiveInt('PID')(v);
  if (pid === undefined) return undefined;
  const tgid = taskTgid(pid);
  if (tgid === undefined) throw new UsageError(`no process with PID ${pid}`);
  if (tgid !== pid) throw new UsageError(`no process with PID ${pid} (${pid} is a thread of PID ${tgid})`);
  return pid;
}

function existingTid(v: unknown): number | undefined {
  const tid = positiveInt('TID')(v);
  if (tid !== undefined && taskTgid(tid) === undefined) throw new UsageError(`no thread with TID ${tid}`);
  return tid;
}

function uidOrUser(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = lastValue(v);
  const uid = userId(s);
  if (uid === undefined) throw new UsageError(`invalid UID: '${s}' (must be a non-negative integer or a user name)`);
  return uid;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

function cgroupDir(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const dir = lastValue(v);
  let st: fs.StatsFs;
  try {
    if (!fs.statSync(dir).isDirectory()) throw new UsageError(`invalid cgroup: '${dir}' (not a directory)`);
    st = fs.statfsSync(dir);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`invalid cgroup: '${dir}' (no such directory)`);
  }
  if (st.type !== CGROUP2_SUPER_MAGIC) throw new UsageError(`invalid cgroup: '${dir}' (not a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice)`);
  return dir;
}

function existingDisk(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const name = lastValue(v);
  const r = resolveDisk(name);
  if ('error' in r) throw new UsageError(r.error);
  return name;
}

/**
 * The BPF side's disk filter for -d DISK (const volatile filter_dev and targ_dev, as biolatency's):
 * the whole disk's kernel dev_t; a name that is no disk (or a partition) is a usage error.
 */
export function diskRodata(name: string | undefined): { filter_dev: boolean; targ_dev: number } {
  if (name === undefined) return { filter_dev: false, targ_dev: 0 };
  const r = resolveDisk(name);
  if ('error' in r) throw new UsageError(r.error);
  return { filter_dev: true, targ_dev: r.dev };
}

/** TASK_COMM_LEN less the NUL: the longest process name the kernel keeps. */
const COMM_MAX = 15;

/** A process name (-c COMM): 1 to 15 bytes, since the kernel keeps no more. */
function processName(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = lastValue(v);
  if (s === '' || Buffer.byteLength(s) > COMM_MAX) throw new UsageError(`invalid COMM: '${s}' (a process name has 1 to ${COMM_MAX} characters)`);
  return s;
}

/** BCC's positive_int_list ("185" or "185,175"), each one an existing process (or thread). */
function existingList(check: (v: unknown) => number | undefined) {
  return (v: unknown): number[] | undefined => {
    if (v === undefined) return undefined;
    return lastValue(v).split(',').map(x => check(x)!); // each with the single option's check and words
  };
}

/** A CPU number that is online here (funccount, stackcount: -c CPU). */
function onlineCpu(v: unknown): number | undefined {
  const cpu = nonNegativeInt('CPU')(v);
  if (cpu !== undefined && !onlineCpus().includes(cpu)) throw new UsageError(`invalid CPU: ${cpu} (online: ${onlineCpus().join(',')})`);
  return cpu;
}

/** IFNAMSIZ less the NUL: the longest network interface name. */
const IFNAME_MAX = 15;

/** A network interface name (-n NIC, -d DEVICE): 1 to 15 bytes; not looked up (it may be in another network namespace). */
function interfaceName(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = lastValue(v);
  if (s === '' || Buffer.byteLength(s) > IFNAME_MAX || /[/\s]/.test(s)) throw new UsageError(`invalid interface name: '${s}' (1 to ${IFNAME_MAX} characters, no '/' or spaces)`);
  return s;
}

/** A [duration] positional's seconds (defineTool has checked it), or undefined: until Ctrl-C. */
export const durationSeconds = (v: unknown): number | undefined => positionalChecks.duration(v);

const withAlias = (alias: string | undefined): Options => (alias ? { alias } : {});

/** Shared option definitions with BCC's letters and validation. */
export const opt = {
  pid: (describe = 'trace this PID only', alias = 'p'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: existingPid, meaning: 'pid' }),
  tid: (describe = 'trace this TID only', alias = 't'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: existingTid, meaning: 'tid' }),
  /** -p 185,175: BCC's comma-separated PIDs (profile, offcputime). */
  pids: (describe = 'trace these PIDs only, comma separated', alias = 'p'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: existingList(existingPid), meaning: 'pid' }),
  tids: (describe = 'trace these TIDs only, comma separated', alias = 't'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: existingList(existingTid), meaning: 'tid' }),
  uid: (describe = 'trace this UID only (number or user name)', alias = 'u'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: uidOrUser, meaning: 'uid' }),
  /** -i: BCC's summary interval as an option (funccount, funclatency): seconds > 0, fractions allowed. */
  interval: (describe = 'summary interval, in seconds', alias = 'i'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: positiveSeconds('interval') }),
  duration: (describe = 'total duration of trace in seconds', alias = 'd'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: positiveSeconds('duration'), meaning: 'duration' }),
  cgroup: (describe = 'trace processes in this cgroup (a cgroup v2 directory)', alias = 'c'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: cgroupDir, meaning: 'cgroup' }),
  disk: (describe = 'trace this disk only', alias = 'd'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: existingDisk, meaning: 'disk' }),
  cpu: (describe = 'trace this CPU only', alias = 'c'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: onlineCpu, meaning: 'integer' }),
  /** -c COMM: a process name (bitesize, seeksize: a prefix of it, as libbpf-tools' comm filter). */
  comm: (describe = 'trace this comm only', alias = 'c'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: processName }),
  /** -n NIC: a network interface's name (netqtop, netsize); bpf-c/include/bpfkit_netdev.h filters by it. */
  nic: (describe = 'trace this network interface only', alias = 'n'): ToolOption =>
    ({ alias, type: 'string', describe, coerce: interfaceName }),
  flag: (alias: string, describe: string): ToolOption => ({ alias, type: 'boolean', describe, default: false }),
  int: (alias: string | undefined, describe: string, what: string, def?: number): ToolOption =>
    ({ ...withAlias(alias), type: 'string', describe, coerce: nonNegativeInt(what), meaning: 'integer',
      ...(def !== undefined ? { default: def } : {}) }),
  str: (alias: string | undefined, describe: string): ToolOption => ({ ...withAlias(alias), type: 'string', describe }),
  /** One port, 1-65535 (tcpwin -L, tcppktlat -l). */
  port: (alias: string, describe: string, what: string): ToolOption =>
    ({ alias, type: 'string', describe, coerce: onePort(what), meaning: 'integer' }),
  /** BCC's comma-separated port lists (-L 80,81, -D 80, -P 80): a Set<number> of ports 0-65535. */
  ports: (alias: string, describe: string, what: string): ToolOption =>
    ({ alias, type: 'string', describe, coerce: portList(what) }),
};

/**
 * Positionals with a shared meaning, checked by defineTool: BCC's interval (seconds) and count, and
 * libbpf-tools' duration ("biosnoop 10").
 */
export const positionalChecks: Record<string, (v: unknown) => number | undefined> = {
  interval: positiveSeconds('interval'),
  count: positiveInt('count'),
  duration: positiveSeconds('duration'),
};

/** BCC's -i/-d options: -d alone is one interval of that length; with -i, intervals until the duration has passed. */
export function intervalSchedule(o: { interval?: number; duration?: number }): { interval: number; count: number } {
  const interval = o.interval ?? o.duration ?? 99999999;
  const count = o.duration ? Math.max(1, Math.ceil(o.duration / interval - 1e-9)) : 99999999;
  return { interval, count };
}

/** interval/count positionals as BCC: seconds > 0, count > 0; both default to "until Ctrl-C". */
export function intervalCount(o: { interval?: unknown; count?: unknown }): { interval: number; count: number } {
  return { interval: positionalChecks.interval(o.interval) ?? 99999999, count: positionalChecks.count(o.count) ?? 99999999 };
}
