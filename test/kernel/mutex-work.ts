// A pthread mutex contended in a known way, for pmlock, pmheld and futexctn: the main thread holds it
// 5 ms while a second thread waits for it (seen blocked before the 5 ms start), MUTEX_ROUNDS times.
// So exactly MUTEX_ROUNDS waits of 5 ms and more (lock latency, futex waits), MUTEX_ROUNDS holds of
// 5 ms and more, and as many short uncontended locks and holds. SCHED_FIFO keeps the 5 ms from
// stretching past 8 ms on a loaded machine; the spins yield, so two FIFO threads never starve each other.
import fs from 'node:fs';
import path from 'node:path';
import { heldProgram, histogramRows, tmpDir, waitUntil, type HeldProgram } from './helpers.js';

export const MUTEX_ROUNDS = 10;

export interface ContendedMutex extends HeldProgram {
  /** The mutex's address in the process, as the tools print it ("0x55d..."), once started(). */
  address(): string;
}

const functions = (addressFile: string) => `#define ADDRESS_FILE "${addressFile}"
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>

pthread_mutex_t contended_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int go, finished, waiter_tid;

static void *waiter(void *arg)
{
	atomic_store(&waiter_tid, syscall(SYS_gettid));
	for (int i = 0; i < ${MUTEX_ROUNDS}; i++) {
		while (atomic_load(&go) <= i)
			sched_yield();
		pthread_mutex_lock(&contended_mutex);
		pthread_mutex_unlock(&contended_mutex);
		atomic_store(&finished, i + 1);
	}
	return arg;
}

/* whether the thread sleeps (state S in /proc: here, in the mutex's futex wait) */
static int sleeping(int tid)
{
	char file[64], stat[512];
	snprintf(file, sizeof(file), "/proc/self/task/%d/stat", tid);
	int fd = open(file, O_RDONLY), n = fd < 0 ? -1 : read(fd, stat, sizeof(stat) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	stat[n] = 0;
	char *end = strrchr(stat, ')');
	return end && end[2] == 'S';
}

/* the address, written at start-up (before main), so that a tracer can filter on it (futexctn -l) */
__attribute__((constructor)) static void tell_address(void)
{
	FILE *f = fopen(ADDRESS_FILE, "w");
	if (!f || fprintf(f, "%p", (void *)&contended_mutex) < 0 || fclose(f))
		exit(1);
}

static int contend(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, waiter, NULL))
		return 1;
	while (!atomic_load(&waiter_tid))
		sched_yield();
	struct timespec hold = { 0, 5000000 };
	for (int i = 0; i < ${MUTEX_ROUNDS}; i++) {
		pthread_mutex_lock(&contended_mutex);
		atomic_store(&go, i + 1);
		while (!sleeping(atomic_load(&waiter_tid)))
			sched_yield();
		nanosleep(&hold, NULL);
		pthread_mutex_unlock(&contended_mutex);
		while (atomic_load(&finished) <= i)
			sched_yield();
	}
	return pthread_join(t, NULL);
}`;

/** Builds (once per directory) and starts the program, held until release(). */
export function contendedMutex(dir = tmpDir('bpfkit-mutex-')): ContendedMutex {
  const bin = path.join(dir, 'mutexer');
  const addressFile = `${bin}.address`;
  fs.rmSync(addressFile, { force: true });
  const p = heldProgram(bin, functions(addressFile), `
	if (contend())
		return 1;`, { realtime: true });
  return {
    ...p,
    started: async () => {
      await p.started();
      await waitUntil(() => fs.existsSync(addressFile) && fs.readFileSync(addressFile, 'utf8').length > 0, `${bin} to write its mutex's address`);
    },
    address: () => fs.readFileSync(addressFile, 'utf8').trim(),
  };
}

export interface MutexSection { address: string; comm: string; pid: number; frames: string[]; rows: [string, number][] }

/** pmlock's and pmheld's text sections: "mutex = ADDRESS COMM [PID]", the stack's frames, the histogram. */
export function mutexSections(text: string): MutexSection[] {
  return text.split(/^mutex = /m).slice(1).map(s => {
    const [title, ...rest] = s.split('\n');
    const m = /^(0x[0-9a-f]+) (.*) \[(\d+)\]$/.exec(title)!;
    return { address: m[1], comm: m[2], pid: Number(m[3]), frames: rest.filter(l => l.startsWith('\t')).map(l => l.slice(1)), rows: histogramRows(rest.join('\n')) };
  });
}

/** The rows of every section of one mutex in one process, added up. */
export function mutexRows(sections: MutexSection[], pid: number, address: string): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const s of sections.filter(x => x.pid === pid && x.address === address)) for (const [range, n] of s.rows) rows[range] = (rows[range] ?? 0) + n;
  return rows;
}
