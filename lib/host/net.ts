// Network addresses as tools print them (BCC's inet_ntop).
import { isIP } from 'node:net';
import { Btf } from '../btf/index.js';

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Dotted quad or RFC 5952 IPv6 text from address bytes (4 or 16 used). */
export function formatIp(family: number, bytes: ArrayLike<number>): string {
  if (family === AF_INET) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  if (groups.slice(0, 6).every((g, i) => g === (i === 5 ? 0xffff : 0))) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`; // IPv4-mapped
  }
  // the longest run of two or more zero groups becomes "::"
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]) => gs.map(g => g.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** include/net/tcp_states.h's names, as BCC's tcpstates prints them (an unknown state prints its number). */
const TCP_STATE_NAMES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'];
export function tcpStateName(state: number): string {
  return TCP_STATE_NAMES[state] || String(state);
}


/** An event's two addresses as text and its IP version (4 or 6): the columns every TCP tool prints. */
export function sessionAddrs(e: { family: number; saddr: ArrayLike<number>; daddr: ArrayLike<number> }): { ip: 4 | 6; saddr: string; daddr: string } {
  return { ip: e.family === AF_INET ? 4 : 6, saddr: formatIp(e.family, e.saddr), daddr: formatIp(e.family, e.daddr) };
}

/** -4/-6 as the BPF side's targ_family (0: both). */
export const familyFilter = (o: { ipv4?: boolean; ipv6?: boolean }): number => (o.ipv4 ? AF_INET : o.ipv6 ? AF_INET6 : 0);

/**
 * sock:inet_sock_set_state's session as an event carries it (bpfkit_net.h's struct set_state_session):
 * the columns tcplife and tcpstates print from it, and their -L/-D port filters.
 */
export interface SetStateSession { family: number; lport: number; dport: number; saddr: number[]; daddr: number[] }

/** inet_pton: an IPv4 or IPv6 address's family and bytes (16, IPv4 in the first 4), or undefined if it is neither. */
export function parseIp(text: string): { family: number; bytes: number[] } | undefined {
  const kind = isIP(text);
  if (kind === 4) return { family: AF_INET, bytes: [...text.split('.').map(Number), ...Array(12).fill(0)] };
  if (kind !== 6) return undefined;
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t); // a dotted tail (::ffff:1.2.3.4) is two groups
  if (v4) {
    const b = v4[1].split('.').map(Number);
    t = t.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map(g => parseInt(g, 16)) : []);
  const h = groups(head), tl = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill(0), ...tl];
  return { family: AF_INET6, bytes: all.flatMap(g => [g >> 8, g & 0xff]) };
}

// include/linux/socket.h
const addressFamilies: Record<number, string> = {
  0: 'AF_UNSPEC', 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK', 17: 'AF_PACKET',
  31: 'AF_BLUETOOTH', 38: 'AF_ALG', 40: 'AF_VSOCK', 44: 'AF_XDP',
};
/** An address family's name, "AF_INET6"; '' for one not named here. */
export const addressFamilyName = (family: number): string => addressFamilies[family] ?? '';

// include/uapi/linux/in.h
const ipProtocols: Record<number, string> = {
  0: 'IPPROTO_IP', 1: 'IPPROTO_ICMP', 6: 'IPPROTO_TCP', 17: 'IPPROTO_UDP', 41: 'IPPROTO_IPV6', 58: 'IPPROTO_ICMPV6',
  132: 'IPPROTO_SCTP', 136: 'IPPROTO_UDPLITE', 255: 'IPPROTO_RAW', 262: 'IPPROTO_MPTCP',
};
/** A transport protocol's name, "IPPROTO_TCP"; '' for one not named here. */
export const ipProtocolName = (protocol: number): string => ipProtocols[protocol] ?? '';

/** The kernel's own names of its sk_buff drop reasons (enum skb_drop_reason in its BTF), without the SKB_DROP_REASON_ prefix. */
export function dropReasonNames(): Map<number, string> {
  const values = Btf.vmlinux().find('skb_drop_reason', 'enum')?.values ?? [];
  return new Map(values.map(v => [Number(v.value), v.name.replace(/^SKB_DROP_REASON_/, '')]));
}
