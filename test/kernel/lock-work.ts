// Known kernel mutex contention for the lock tools, on any number of CPUs and however busy: threads
// of one process writing to one pseudo-terminal whose master nobody reads yet. A tty write holds the
// tty's atomic_write_lock mutex while it waits for room (iterate_tty_write -> n_tty_write sleeps), so
// once the first writer fills the buffer every other writer waits for that mutex; then the master is
// drained and all finish. Each wait is a lock:contention_begin/end pair with the MUTEX flag.
import { heldProgram, tmpDir, type HeldProgram } from './helpers.js';

const dir = tmpDir('bpfkit-locks-');

/** A held program whose WRITERS threads each write 256 KiB to one pty slave, drained after a pause. */
export function ttyContention(writers = 4): HeldProgram {
  const chunk = 65536;
  const rounds = 4;
  return heldProgram(`${dir}/ttylock`, `#include <pthread.h>
#include <stdio.h>
#include <sys/ioctl.h>
static int slave;
static void *writer(void *arg) {
	static char buf[${chunk}];
	memset(buf, 'a', sizeof(buf));
	for (int i = 0; i < ${rounds}; i++)
		if (write(slave, buf, sizeof(buf)) != sizeof(buf))
			break;
	return arg;
}`, `int master = open("/dev/ptmx", O_RDWR | O_NOCTTY), unlock = 0, n;
	char name[64];
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) || ioctl(master, TIOCGPTN, &n))
		return 1;
	snprintf(name, sizeof(name), "/dev/pts/%d", n);
	slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return 1;
	pthread_t w[${writers}];
	for (int i = 0; i < ${writers}; i++)
		pthread_create(&w[i], NULL, writer, NULL);
	struct timespec pause = { 0, 200 * 1000 * 1000 };  /* the writers fill the tty and queue on its mutex */
	nanosleep(&pause, NULL);
	static char sink[65536];
	for (long left = ${writers}L * ${rounds} * ${chunk}; left > 0;) {
		ssize_t r = read(master, sink, sizeof(sink));
		if (r <= 0)
			return 1;
		left -= r;
	}
	for (int i = 0; i < ${writers}; i++)
		pthread_join(w[i], NULL);`);
}
