// What the killsnoop and sigsnoop tests share: a sleeper to signal, kill(1) runs whose PIDs are known,
// and the event rows of both layouts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** A PID above pid_max: no process has it, so kill(2) fails with ESRCH (-3). */
export const NO_SUCH_PID = 4000000;

export function sleeper(): ChildProcess {
  return spawn('sleep', ['1000'], { stdio: 'ignore' });
}

/** Runs /bin/kill -SIG pid; returns the sending process's PID. */
export function kill(signal: string, pid: number): number {
  const r = spawnSync('/bin/kill', [`-${signal}`, String(pid)], { stdio: 'ignore' });
  return r.pid;
}

export interface SignalRow { pid: number; comm: string; sig: string; tpid: number; tcomm?: string; result: number }

/**
 * killsnoop (BCC): TIME PID COMM SIG TPID RESULT; Debian's libbpf-tools 0.26 sigsnoop and killsnoop
 * print the same columns (their TCOMM came later), padded.
 */
export const killsnoopRows = (text: string): SignalRow[] => [...text.matchAll(/^\d\d:\d\d:\d\d +(\d+) +(.{16}) (\S+) +(-?\d+) +(-?\d+) *$/gm)]
  .map(m => ({ pid: Number(m[1]), comm: m[2].trim(), sig: m[3], tpid: Number(m[4]), result: Number(m[5]) }));

/** sigsnoop (libbpf-tools today): TIME PID COMM SIG TPID TCOMM RESULT. */
export const sigsnoopRows = (text: string): SignalRow[] => [...text.matchAll(/^\d\d:\d\d:\d\d (\d+) +(.{16}) (\S+) +(-?\d+) +(.{16}) (-?\d+) *$/gm)]
  .map(m => ({ pid: Number(m[1]), comm: m[2].trim(), sig: m[3], tpid: Number(m[4]), tcomm: m[5].trim(), result: Number(m[6]) }));
