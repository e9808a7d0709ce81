#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// bpflist: the processes holding BPF programs and maps, counted by their file descriptors (BCC's
// bpflist: /proc/PID/fd links "anon_inode:bpf-prog", "anon_inode:bpf-map"); -v also counts the
// kprobes and uprobes a tracer created through tracefs, by the PID in their names (BCC's "_bcc_PID",
// libbpf's legacy "libbpf_PID_"), and -vv lists those probes. Nothing is loaded: it reads /proc and
// tracefs only. (Probes attached as perf events, as bpfkit's and libbpf's are on current kernels,
// are not in tracefs: their programs and links are counted with the fds.)
import fs from 'node:fs';
import path from 'node:path';
import { defineTool } from '../../lib/cli/index.js';
import { tracefsDir } from '../../lib/compile/tracepoints.js';
import { sprintf } from '../../lib/output/index.js';

interface Options { verbosity: number }

/** The PID in a tracefs probe's name, for probes created by BCC or by libbpf's legacy path. */
const probeOwner = (line: string): number | undefined => {
  const m = /_bcc_(\d+)\s/.exec(line) ?? /[:/]libbpf_(\d+)_/.exec(line);
  return m ? Number(m[1]) : undefined;
};

const commOf = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '[unknown]';
  }
};

defineTool<Options>({
  name: 'bpflist',
  subsystem: 'kernel',
  description: 'Display processes currently using BPF programs and maps',
  ports: { bcc: 'tools/bpflist.py' },
  probes: {},
  output: 'event',
  invocations: [{ args: [], ends: 'itself', quiet: 'no process may hold BPF objects then' }, { args: ['-vv'], ends: 'itself', quiet: 'nor any tracefs probe' }],
  records: o => (o.verbosity > 1 ? undefined : { fields: ['pid', 'comm', 'type', 'count'] }), // -vv adds the open probes, as other records
  program: '#include <bpfkit.h>\n',
  options: {
    verbosity: { alias: 'v', type: 'boolean', count: true, default: 0, describe: 'count and display kprobes/uprobes as well' },
  },
  examples: [
    ['bpflist', 'display all processes currently using BPF'],
    ['bpflist -v', 'also count kprobes/uprobes'],
    ['bpflist -vv', 'display kprobes/uprobes and count them'],
  ],

  run({ opts, out, json, emit }) {
    // (pid, type) -> count, in the order first seen, as BCC's dict
    const counts = new Map<string, { pid: number; type: string; count: number }>();
    const add = (pid: number, type: string) => {
      const k = `${pid} ${type}`;
      const c = counts.get(k);
      if (c) c.count++;
      else counts.set(k, { pid, type, count: 1 });
    };
    if (opts.verbosity > 0) {
      for (const type of ['kprobe', 'uprobe']) {
        let lines: string[] = [];
        try {
          lines = fs.readFileSync(path.join(tracefsDir(), `${type}_events`), 'utf8').split('\n').filter(Boolean);
        } catch { /* this kernel has none of these (no kprobes here): nothing to count */ }
        if (opts.verbosity > 1 && !json) out.line(`open ${type}s:`);
        for (const line of lines) {
          const pid = probeOwner(line + '\n');
          if (pid !== undefined) add(pid, type);
          if (opts.verbosity > 1) {
            if (json) emit.event({ probe_type: type, probe: line.trim(), pid: pid ?? null });
            else out.line(line.trim());
          }
        }
        if (opts.verbosity > 1 && !json) out.line('');
      }
    }
    for (const dir of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(dir)) continue;
      let fds: string[];
      try {
        fds = fs.readdirSync(`/proc/${dir}/fd`);
      } catch {
        continue; // exited meanwhile
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = fs.readlinkSync(`/proc/${dir}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = /^anon_inode:bpf-([\w-]+)/.exec(link);
        if (m) add(Number(dir), m[1]);
      }
    }
    const rows = [...counts.values()].sort((a, b) => a.pid - b.pid); // stable: BCC's sorted() by PID
    if (json) {
      for (const r of rows) emit.event({ pid: r.pid, comm: commOf(r.pid), type: r.type, count: r.count });
      return;
    }
    const width = Math.max(0, ...rows.map(r => r.type.length)) + 1;
    const format = `%-6s %-16s %-${width}s %s`;
    out.line(sprintf(format, 'PID', 'COMM', 'TYPE', 'COUNT'));
    for (const r of rows) out.line(sprintf(format, r.pid, commOf(r.pid), r.type, r.count));
  },
});
