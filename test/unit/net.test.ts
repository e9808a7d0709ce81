import { AF_INET, AF_INET6, formatIp } from '../../lib/host/net.js';

const v6 = (s: string) => {
  // parse the full 8-group form used in these cases
  const out: number[] = [];
  for (const g of s.split(':')) out.push(parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff);
  return out;
};

test('IPv4 and IPv6 text as inet_ntop prints it', () => {
  expect(formatIp(AF_INET, [127, 0, 0, 1])).toBe('127.0.0.1');
  expect(formatIp(AF_INET6, v6('0:0:0:0:0:0:0:1'))).toBe('::1');
  expect(formatIp(AF_INET6, v6('0:0:0:0:0:0:0:0'))).toBe('::');
  expect(formatIp(AF_INET6, v6('fe80:0:0:0:1:2:3:4'))).toBe('fe80::1:2:3:4');
  expect(formatIp(AF_INET6, v6('2001:db8:0:1:0:0:0:1'))).toBe('2001:db8:0:1::1');
  expect(formatIp(AF_INET6, v6('2001:db8:1:2:3:4:5:6'))).toBe('2001:db8:1:2:3:4:5:6');
  expect(formatIp(AF_INET6, v6('0:0:0:0:0:ffff:7f00:1'))).toBe('::ffff:127.0.0.1');
  expect(formatIp(AF_INET6, v6('1:0:0:2:0:0:0:3'))).toBe('1:0:0:2::3');
});
