// Types of bpf-fds.js (plain JS: jest's global teardown uses it too).
export interface BpfFds {
  /** IDs of the programs the process holds a program fd of. */
  programs: number[];
  /** How many BPF link fds it holds. */
  links: number;
  /** IDs of the programs its links attach. */
  linked: Set<number>;
  /** How many perf-event fds it holds (a tracer that attaches through perf events, bpftrace, has no links). */
  perfEvents: number;
}
export function bpfFdsOf(pid: number): BpfFds;
export function allProgramsLinked(pid: number): boolean;
export function programHolders(): Map<number, number[]>;
