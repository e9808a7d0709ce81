// Network addresses as tools print them (BCC's inet_ntop).
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
