// The skeleton sofamily and soprotocol share: new sockets (connect() and accept() calls) counted by
// call, process name and a number (address family or transport protocol), in bpf-c/include/bpfkit_sock.h's
// new_socks map; the book's output, one map per call, "@connect[comm, 2, AF_INET]: 3"; -p,
// [interval] [count]. A tool gives its program (tracepoints syscalls:sys_enter_connect, sys_exit_accept and
// sys_exit_accept4) and how its number is named.
import { defineTool, intervalCount, opt, type ReferenceSource, type ToolSpec } from './index.js';
import { strftimeHMS, type Fields } from '../output/index.js';

interface NewSockOptions { pid?: number; interval?: string; count?: string }

export interface NewSockTool {
  name: string;
  description: string;
  ports: Partial<Record<ReferenceSource, string>>;
  program: string;
  /** What the number is, for the examples: "address family". */
  counted: string;
  /** The substitute line on stderr. */
  says: string;
  /** The number's field in --json ("family"), and its name's ("family_name"). */
  field: string;
  /** The number's name ("AF_INET"); '' for one it has none for. */
  nameOf: (n: number) => string;
  /** Whether the kernel's name of the socket's protocol (struct proto: "TCP", "UDPv6") is a key too (field `proto`). */
  withProto: boolean;
}

interface NewSockKey { comm: string; call: number; value: number; prot: string }

const calls: Record<number, string> = { 1: 'accept', 2: 'connect' };

export function defineNewSockTool(t: NewSockTool): ToolSpec<NewSockOptions> {
  const fields = ['call', 'comm', t.field, `${t.field}_name`, ...(t.withProto ? ['proto'] : []), 'count'];
  return defineTool<NewSockOptions>({
    name: t.name,
    subsystem: 'net',
    description: t.description,
    ports: t.ports,
    probes: { tracepoint: ['syscalls/sys_enter_connect', 'syscalls/sys_exit_accept', 'syscalls/sys_exit_accept4'] },
    output: 'counts',
    invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
    records: () => ({ fields }),
    program: t.program,
    options: { pid: opt.pid('trace only this process') },
    positional: '[interval] [count]',
    examples: [
      [t.name, `count connects and accepts by ${t.counted} until Ctrl-C`],
      [`${t.name} 5`, 'every 5 seconds'],
      [`${t.name} -p 181`, 'only PID 181'],
    ],

    async run({ opts, load, out, json, emit, banner, intervals }) {
      const { interval, count } = intervalCount(opts);
      const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
      bpf.attachAll();
      process.stderr.write(`${t.name}: ${t.says}\n`);
      banner('Tracing socket connect/accepts. Ctrl-C to end.');
      const map = bpf.map<NewSockKey, bigint>('new_socks');
      await intervals(interval, count, (_last, seconds) => {
        const rows: Fields[] = map.drain().map(([k, n]) => ({
          call: calls[k.call] ?? String(k.call), comm: k.comm, [t.field]: k.value, [`${t.field}_name`]: t.nameOf(k.value),
          ...(t.withProto ? { proto: k.prot } : {}), count: Number(n),
        }));
        if (json) {
          emit.counts(seconds, rows.sort((a, b) => Number(b.count) - Number(a.count)));
          return;
        }
        if (interval < 99999999) out.line(strftimeHMS());
        for (const call of ['accept', 'connect']) {
          const mine = rows.filter(r => r.call === call).sort((a, b) => Number(a.count) - Number(b.count));
          for (const r of mine) out.line(`@${call}[${[r.comm, r[t.field], r[`${t.field}_name`], ...(t.withProto ? [r.proto] : [])].join(', ')}]: ${r.count}`);
          if (mine.length) out.line('');
        }
      });
    },
  });
}
