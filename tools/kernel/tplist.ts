#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tplist: list kernel tracepoints (with -v their fields, from tracefs' format files) or the USDT
// probes of a binary or library (-l) or of every file a process has mapped (-p), with -v their
// locations and arguments from the .note.stapsdt notes (BCC's tplist). Nothing is loaded: it reads
// tracefs and ELF files only.
import { defineTool, opt, UsageError } from '../../lib/cli/index.js';
import { readTracepointFormat } from '../../lib/compile/tracepoints.js';
import { mappedFiles, nameMatcher, tracepointList } from '../../lib/probes/index.js';
import { ElfFile, parseUsdtArgs, type UsdtArg, type UsdtProbe } from '../../lib/syms/elf.js';
import { resolveLibrary } from '../../lib/syms/libraries.js';

interface Options { pid?: number; lib?: string; verbose?: number; filter?: string }

/** BCC's argument description: "8 unsigned bytes @ %rbp", "4   signed bytes @ *(%rbp - 16)", "4 unsigned bytes @ 5". */
function describeArg(a: UsdtArg): string {
  const size = `${a.size} ${a.signed ? '  signed' : 'unsigned'} bytes`;
  const offset = (v: bigint | undefined) => (v === undefined || v === 0n ? '' : ` ${v < 0n ? '-' : '+'} ${v < 0n ? -v : v}`);
  switch (a.kind) {
    case 'const': return `${size} @ ${a.value}`;
    case 'reg': return `${size} @ %${a.reg}`;
    case 'mem': return `${size} @ *(%${a.reg}${offset(a.value)})`;
    case 'sib': return `${size} @ *(%${a.reg}${offset(a.value)} + %${a.index}${a.scale && a.scale !== 1 ? ` * ${a.scale}` : ''})`;
  }
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

defineTool<Options>({
  name: 'tplist',
  subsystem: 'kernel',
  description: 'Display kernel tracepoints or USDT probes and their formats.',
  ports: { bcc: 'tools/tplist.py' },
  probes: {},
  output: 'event',
  invocations: [{ args: ['sched:sched_switch'], ends: 'itself' }, { args: ['-v', 'syscalls:sys_enter_open*'], ends: 'itself' }],
  records: o => ({ fields: o.pid === undefined && o.lib === undefined ? ['tracepoint', ...(Number(o.verbose ?? 0) > 0 ? ['fields'] : [])] : ['binary', 'provider', 'probe', 'semaphore', 'locations'] }),
  program: '#include <bpfkit.h>\n',
  options: {
    pid: opt.pid('List USDT probes in the specified process'),
    lib: { alias: 'l', type: 'string', describe: 'List USDT probes in the specified library or executable' },
    verbose: { alias: 'v', type: 'boolean', count: true, describe: 'Increase verbosity level (print variables, arguments, etc.)' },
  },
  positional: '[filter]',
  examples: [
    ['tplist', 'print all kernel tracepoints'],
    ["tplist -v 'net:*'", 'print all net tracepoints with their format'],
    ['tplist -l pthread', 'print all USDT probes in libpthread'],
    ["tplist -p 4717 'libc:*'", 'print all USDT probes in process 4717 from the libc provider'],
    ['tplist -l /usr/bin/python3.11 -vv', 'print python\'s USDT probes with their locations and arguments'],
  ],

  run({ opts, out, json, emit }) {
    const verbosity = Number(opts.verbose ?? 0);
    const filter = opts.filter ? nameMatcher(opts.filter, false) : () => true;
    if (opts.pid === undefined && opts.lib === undefined) {
      for (const t of tracepointList()) {
        const name = `${t.category}:${t.event}`;
        if (!filter(name)) continue;
        const fields = verbosity > 0 ? readTracepointFormat(t.category, t.event).filter(f => !f.name.startsWith('common_')) : undefined;
        if (json) {
          emit.event({ tracepoint: name, ...(fields ? { fields: fields.map(f => ({ decl: f.decl, offset: f.offset, size: f.size, signed: f.signed })) } : {}) });
          continue;
        }
        out.line(name);
        for (const f of fields ?? []) out.line(`    ${f.decl};`);
      }
      return;
    }
    let binaries: string[];
    if (opts.lib !== undefined) {
      try {
        binaries = [resolveLibrary(opts.lib, opts.pid)];
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    } else binaries = mappedFiles(opts.pid!);
    for (const binary of binaries) {
      let notes: UsdtProbe[];
      try {
        notes = ElfFile.cached(binary).usdtNotes();
      } catch (e) {
        if (opts.lib !== undefined) throw new UsageError((e as Error).message);
        continue; // a mapping that is no ELF file
      }
      // one entry per provider:name, with each place it fires
      const probes = new Map<string, UsdtProbe[]>();
      for (const n of notes) {
        const key = `${n.provider}:${n.name}`;
        if (!filter(key)) continue;
        probes.set(key, [...(probes.get(key) ?? []), n]);
      }
      for (const [key, sites] of probes) {
        const first = sites[0]!;
        const args = sites.map(s => safeArgs(s.args));
        if (json) {
          emit.event({
            binary, provider: first.provider, probe: first.name, semaphore: Number(first.semaphore),
            locations: sites.map((s, i) => ({ address: Number(s.pc), arguments: args[i]!.map(a => (typeof a === 'string' ? a : describeArg(a))) })),
          });
          continue;
        }
        if (verbosity === 0) {
          out.line(`${binary} ${key}`);
          continue;
        }
        out.line(`${binary} ${key} [sema ${hex(first.semaphore)}]`);
        if (verbosity === 1) {
          out.line(`  ${sites.length} location(s)`);
          out.line(`  ${args[0]!.length} argument(s)`);
          continue;
        }
        sites.forEach((s, i) => {
          out.line(`  location #${i + 1} ${binary} ${hex(s.pc)}`);
          args[i]!.forEach((a, j) => out.line(`    argument #${j + 1} ${typeof a === 'string' ? a : describeArg(a)}`));
        });
      }
    }
  },
});

/** The parsed arguments; an argument of a form this reader does not know is shown as written. */
function safeArgs(spec: string): (UsdtArg | string)[] {
  try {
    return parseUsdtArgs(spec);
  } catch {
    return spec.trim().split(/\s+/).filter(Boolean);
  }
}
