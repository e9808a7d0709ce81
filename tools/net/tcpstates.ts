#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcpstates: every TCP state change with the time spent in the old state (BCC's tcpstates), from
// sock:inet_sock_set_state. The socket's address is its identity; C-PID/C-COMM are whoever runs when the
// state changes (often softirq context, as BCC warns: "C-" for current).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { defineTool, opt, ToolError } from '../../lib/cli/index.js';
import { sprintf, timeColumns } from '../../lib/output/index.js';
import { AF_INET, familyFilter, sessionAddrs, tcpStateName, type SetStateSession } from '../../lib/host/net.js';
import { familyOptions, oneFamily, sessionOutputOptions, sessionPortOptions, type SessionOptions } from '../../lib/cli/net-options.js';

const program = `
#include <bpfkit_net.h>   /* TCP states, struct set_state_session */

const volatile u16 targ_family = 0;
const volatile bool filter_lport = false;
const volatile bool filter_dport = false;

struct event {
	u64 skaddr;
	u64 ts_us;
	u64 delta_us;
	u32 pid;
	int oldstate;
	int newstate;
	struct set_state_session session;
	char comm[16];
};

BPF_HASH(last, u64, u64, 10240);   /* socket -> when it entered its current state */
BPF_HASH(lports, u16, u8, 64);
BPF_HASH(dports, u16, u8, 64);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	if (targ_family && args->family != targ_family)
		return 0;
	u64 sk = args->skaddr;
	u16 lport = args->sport, dport = args->dport;
	/* as BCC: a filtered-out change forgets the socket's time, so no later row spans it */
	if ((filter_lport && !bpf_map_lookup_elem(&lports, &lport)) ||
	    (filter_dport && !bpf_map_lookup_elem(&dports, &dport))) {
		bpf_map_delete_elem(&last, &sk);
		return 0;
	}
	u64 now = bpf_ktime_get_ns();
	u64 *tsp = bpf_map_lookup_elem(&last, &sk);
	struct event *e = ringbuf_reserve(events, struct event);
	if (e) {
		e->skaddr = sk;
		e->ts_us = now / 1000;
		e->delta_us = tsp ? (now - *tsp) / 1000 : 0;
		e->pid = bpfkit_tgid();
		e->oldstate = args->oldstate;
		e->newstate = args->newstate;
		copy_set_state_session(args, &e->session);
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		ringbuf_submit(events, e);
	}
	if (args->newstate == TCP_CLOSE)
		bpf_map_delete_elem(&last, &sk);
	else
		bpf_map_update_elem(&last, &sk, &now, BPF_ANY);
	return 0;
}
`;

interface Options extends SessionOptions {
  journal: boolean;
}

interface StateEvent {
  skaddr: bigint; ts_us: bigint; delta_us: bigint; pid: number; oldstate: number; newstate: number; session: SetStateSession; comm: string;
}

/** -Y: one journal entry per change, with BCC's fields, through logger(1) (journald's native protocol). */
function journalEntry(e: StateEvent, laddr: string, raddr: string): void {
  const { family, lport, dport } = e.session;
  const pfx = family === AF_INET ? 'IPV4' : 'IPV6';
  const [old, now] = [tcpStateName(e.oldstate), tcpStateName(e.newstate)];
  const fields = [
    `MESSAGE=${e.comm} ${laddr} ${lport} → ${raddr} ${dport} ${old} → ${now}`,
    'SYSLOG_IDENTIFIER=tcpstates', 'PRIORITY=5', `OBJECT_PID=${e.pid}`, `OBJECT_COMM=${e.comm}`,
    `OBJECT_${pfx}_SOURCE_ADDRESS=${laddr}`, `OBJECT_TCP_SOURCE_PORT=${lport}`,
    `OBJECT_${pfx}_DESTINATION_ADDRESS=${raddr}`, `OBJECT_TCP_DESTINATION_PORT=${dport}`,
    `OBJECT_TCP_OLD_STATE=${old}`, `OBJECT_TCP_NEW_STATE=${now}`, `OBJECT_TCP_SPAN_TIME=${e.delta_us}`,
  ];
  spawnSync('logger', ['--journald'], { input: fields.join('\n') + '\n' });
}

const JOURNAL_SOCKET = '/run/systemd/journal/socket';

defineTool<Options>({
  name: 'tcpstates',
  subsystem: 'net',
  description: 'Trace TCP session state changes and durations',
  ports: { bcc: 'tools/tcpstates.py', 'libbpf-tools': 'libbpf-tools/tcpstates.bpf.c' },
  probes: { tracepoint: ['sock/inet_sock_set_state'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['skaddr', 'pid', 'comm', 'ip', 'laddr', 'lport', 'raddr', 'rport', 'oldstate', 'newstate', 'span_ms'] }),
  program,
  options: {
    ...sessionOutputOptions, ...sessionPortOptions,
    journal: opt.flag('Y', 'log session state changes to the systemd journal'),
    ...familyOptions,
  },
  examples: [
    ['tcpstates', 'trace all TCP state changes'],
    ['tcpstates -t', 'include timestamp column'],
    ['tcpstates -T', 'include time column (HH:MM:SS)'],
    ['tcpstates -w', 'wider columns (fit IPv6)'],
    ['tcpstates -stT', 'csv output, with times & timestamps'],
    ['tcpstates -Y', 'log events to the systemd journal'],
    ['tcpstates -L 80', 'only trace local port 80'],
    ['tcpstates -L 80,81', 'only trace local ports 80 and 81'],
    ['tcpstates -D 80', 'only trace remote port 80'],
    ['tcpstates -4', 'only trace IPv4 family'],
  ],
  validate: oneFamily,

  async run({ opts, load, out, json, emit, untilExit }) {
    if (opts.journal && !fs.existsSync(JOURNAL_SOCKET)) throw new ToolError(`-Y needs systemd-journald (no ${JOURNAL_SOCKET})`);
    const { localport: lports, remoteport: dports } = opts;
    const bpf = load({ rodata: {
      targ_family: familyFilter(opts), filter_lport: lports !== undefined, filter_dport: dports !== undefined,
    } });
    for (const p of lports ?? []) bpf.map('lports').set(p, 1);
    for (const p of dports ?? []) bpf.map('dports').set(p, 1);
    bpf.attachAll();
    const { wide, csv } = opts;
    const withIp = wide || csv; // BCC: the IP column only when wide or CSV
    const times = timeColumns(opts); // BCC: -t counts from the first change printed
    if (!json) {
      const hdr = csv ? '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s'
        : wide ? '%-16s %-5s %-16.16s %-2s %-26s %-5s %-26s %-5s %-11s -> %-11s %s'
        : '%-16s %-5s %-10.10s %s%-15s %-5s %-15s %-5s %-11s -> %-11s %s';
      out.line(times.header + sprintf(hdr, 'SKADDR', 'C-PID', 'C-COMM', withIp ? 'IP' : '', 'LADDR', 'LPORT', 'RADDR', 'RPORT',
        'OLDSTATE', 'NEWSTATE', 'MS'));
    }
    const row = csv ? '%s,%d,%s,%s,%s,%s,%s,%d,%s,%s,%.3f'
      : wide ? '%-16s %-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %-11s -> %-11s %.3f'
      : '%-16s %-5d %-10.10s %s%-15s %-5d %-15s %-5d %-11s -> %-11s %.3f';
    bpf.events<StateEvent>('events', 'event', e => {
      const { lport, dport } = e.session;
      const { ip, saddr: laddr, daddr: raddr } = sessionAddrs(e.session);
      const ms = Number(e.delta_us) / 1000;
      const [oldstate, newstate] = [tcpStateName(e.oldstate), tcpStateName(e.newstate)];
      if (opts.journal) journalEntry(e, laddr, raddr);
      if (json) {
        emit.event({ skaddr: `0x${e.skaddr.toString(16)}`, pid: e.pid, comm: e.comm, ip,
          laddr, lport, raddr, rport: dport, oldstate, newstate, span_ms: ms });
        return;
      }
      out.line(times.row(e.ts_us) + sprintf(row, e.skaddr.toString(16), e.pid, e.comm, withIp ? String(ip) : '',
        laddr, lport, raddr, dport, oldstate, newstate, ms));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcpstates: lost ${lost} events\n`);
  },
});
