// Known kernel mutex contention for the lock tools: threads of one process writing to one pipe, and
// one reading it, all take the pipe's mutex (pipe_write/pipe_read -> mutex_lock(&pipe->mutex)); on
// two or more CPUs some of them find it held and wait.
import { heldProgram, tmpDir, type HeldProgram } from './helpers.js';

const dir = tmpDir('bpfkit-locks-');

/** A held program: WRITERS threads each write ROUNDS x 4 KiB into one pipe that one thread drains. */
export function pipeContention(writers = 4, rounds = 16000): HeldProgram {
  return heldProgram(`${dir}/pipelock`, `#include <pthread.h>
static int fds[2];
static void *writer(void *arg) {
	static char buf[4096];
	for (int i = 0; i < ${rounds}; i++)
		if (write(fds[1], buf, sizeof(buf)) < 0)
			break;
	return arg;
}
static void *reader(void *arg) {
	static char buf[65536];
	while (read(fds[0], buf, sizeof(buf)) > 0)
		;
	return arg;
}`, `pipe(fds);
	pthread_t r, w[${writers}];
	pthread_create(&r, NULL, reader, NULL);
	for (int i = 0; i < ${writers}; i++)
		pthread_create(&w[i], NULL, writer, NULL);
	for (int i = 0; i < ${writers}; i++)
		pthread_join(w[i], NULL);
	close(fds[1]);
	pthread_join(r, NULL);`);
}
