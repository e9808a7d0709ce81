// gethostlatency on the real kernel: a C program looks up names of /etc/hosts (nothing leaves the machine)
// through each traced libc function: getaddrinfo("localhost") three times, gethostbyname("vm") twice,
// gethostbyname2("localhost", AF_INET) once, timing each call itself. Both this tool and libbpf-tools'
// gethostlatency (-p, on the same run) show exactly those six lookups, in order, each no longer than the
// program measured around the call.
import path from 'node:path';
import { attached, expectUsageErrors, heldProgram, startReference, startTool, tmpDir, untilAttached, waitUntil } from './helpers.js';

const LOOKUPS = ['localhost', 'localhost', 'localhost', 'vm', 'vm', 'localhost'];

const FUNCTIONS = `
#include <stdio.h>
#include <netdb.h>
#include <sys/socket.h>
static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static void timed(int which, const char *name)
{
	double t0 = now_ms();
	if (which == 0) {
		struct addrinfo *res = 0;
		if (getaddrinfo(name, 0, 0, &res) == 0)
			freeaddrinfo(res);
	} else if (which == 1) {
		gethostbyname(name);
	} else {
		gethostbyname2(name, AF_INET);
	}
	printf("took %.6f\\n", now_ms() - t0);
	fflush(stdout);
}
`;
const BODY = `
	timed(0, "localhost"); timed(0, "localhost"); timed(0, "localhost");
	timed(1, "vm"); timed(1, "vm");
	timed(2, "localhost");
`;

test('the six lookups, in order, each within the time the program measured; libbpf-tools sees the same', async () => {
  const program = heldProgram(path.join(tmpDir(), 'lookups'), FUNCTIONS, BODY);
  await program.started();
  const t = startTool('gethostlatency', ['-p', String(program.pid)]);
  const json = startTool('gethostlatency', ['--json']);
  const ref = startReference('gethostlatency', ['-p', String(program.pid)]);
  await t.waitFor(/^TIME +PID +COMM +LATms HOST$/m);
  await attached(json);
  await untilAttached([ref]);
  await ref.waitFor(/^TIME +PID +COMM +LATms +HOST/m);
  await program.release();
  const mine = () => t.stdout().split('\n').filter(l => / lookups /.test(l)).map(l => l.trim().split(/ +/));
  const theirs = () => ref.stdout().split('\n').filter(l => / lookups /.test(l)).map(l => l.trim().split(/ +/));
  const events = () => json.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.pid === program.pid);
  await waitUntil(() => mine().length >= 6 && theirs().length >= 6 && events().length >= 6, 'the lookups reported').catch(e => {
    throw new Error(`${e.message}: ours ${mine().length}, libbpf-tools ${theirs().length}, --json ${events().length}\n${ref.stdout()}${ref.stderr()}`);
  });
  await Promise.all([t.stop(), json.stop(), ref.stop()]);
  program.end();
  const took = program.output().split('\n').filter(l => l.startsWith('took')).map(l => Number(l.split(' ')[1]));
  expect(took).toHaveLength(6);
  for (const rows of [mine(), theirs()]) {
    expect(rows.map(r => [r[1], r[2], r[4]])).toEqual(LOOKUPS.map(h => [String(program.pid), 'lookups', h]));
    rows.forEach((r, i) => expect(Number(r[3])).toBeLessThanOrEqual(took[i] + 0.005)); // the tools round to 1/100 and 1/1000 ms
  }
  expect(events().map(e => e.host)).toEqual(LOOKUPS);
  events().forEach((e, i) => expect(e.latency_ms).toBeLessThanOrEqual(took[i]));
});

test('bad input: one line and exit 2', () => {
  expectUsageErrors('gethostlatency', [['--bogus'], ['-p', 'x'], ['-p', '999999999'], ['extra']]);
});
