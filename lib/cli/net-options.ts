// The network tools' shared flags, worded as BCC's: tcplife's and tcpstates' output and port filters, and
// -4/-6 (tcpaccept, tcpconnect, soaccept, soconnect too).
import { opt, type ToolOption } from './options.js';

/** BCC tcplife's and tcpstates' output and filter flags: -T -t -w -s, -L/-D port lists, -4/-6. */
export interface SessionOptions {
  time: boolean;
  timestamp: boolean;
  wide: boolean;
  csv: boolean;
  localport?: Set<number>;
  remoteport?: Set<number>;
  ipv4: boolean;
  ipv6: boolean;
}
export const sessionOutputOptions: Record<'time' | 'timestamp' | 'wide' | 'csv', ToolOption> = {
  time: opt.flag('T', 'include time column on output (HH:MM:SS)'),
  timestamp: opt.flag('t', 'include timestamp on output (seconds)'),
  wide: opt.flag('w', 'wide column output (fits IPv6 addresses)'),
  csv: opt.flag('s', 'comma separated values output'),
};
export const sessionPortOptions: Record<'localport' | 'remoteport', ToolOption> = {
  localport: opt.ports('L', 'comma-separated list of local ports to trace', 'local port'),
  remoteport: opt.ports('D', 'comma-separated list of remote ports to trace', 'remote port'),
};
export const familyOptions: Record<'ipv4' | 'ipv6', ToolOption> = {
  ipv4: opt.flag('4', 'trace IPv4 family only'),
  ipv6: opt.flag('6', 'trace IPv6 family only'),
};
/** validate() of -4 with -6. */
export const oneFamily = (o: { ipv4?: boolean; ipv6?: boolean }): string | undefined =>
  (o.ipv4 && o.ipv6 ? 'use only one of -4 and -6' : undefined);
