// The ring-buffer consumer under a real syscall storm. What holds on any machine, fast or slow, idle
// or loaded: every record the BPF side tried to write was either consumed, in order and without gaps,
// or counted lost; none vanished, none was seen twice. How fast (and so how many are lost) is the
// bench's business (bench/ringbuf.ts prints consumed/produced).
import { ringbufBench, type Consumer, type RingbufRun } from '../../bench/ringbuf.js';

function expectAccounted(r: RingbufRun, burst: number): void {
  expect(r.syscalls).toBeGreaterThanOrEqual(1000); // the generator's first batch always runs
  expect(r.produced).toBe(r.syscalls * burst);
  expect(r.consumed + r.lost).toBe(r.produced);
  expect(r.consumed).toBe(r.stored);
  expect(r.consumed).toBeGreaterThan(0);
  // sequence numbers are taken at reserve time: the records came in order 0, 1, 2, ... with no gap
  expect([r.firstSeq, r.lastSeq, r.gaps]).toEqual([0, r.stored - 1, 0]);
}

test.each<[number, Consumer]>([[1, 'objects'], [8, 'objects'], [8, 'fields']])(
  'a getppid storm, %i record(s) per syscall read as %s: every record consumed in order or counted lost',
  async (burst, consumer) => {
    const r = await ringbufBench(burst, 1.5, consumer);
    process.stdout.write(`ringbuf (${burst}/syscall, ${consumer}): ${r.consumed} of ${r.produced} consumed, ${r.lost} lost\n`);
    expectAccounted(r, burst);
  },
);
