// Perf buffer consumer: the fallback for kernels without BPF ring buffers (< 5.8) and for programs
// written with BPF_PERF_OUTPUT. One libbpf perf_buffer over all CPUs, drained every 10 ms: libuv polls
// on perf event fds (or libbpf's epoll fd) never fire here, and a timer batches wakeups anyway
// (~2 % CPU idle, 5 ms mean latency). Lost samples reported by the kernel are counted.
import {
  bpfError, lastErrno, libbpfFns as f, PerfLostFn, PerfSampleFn, registerCallback, unregisterCallback, view, type Ptr,
} from '../libbpf/index.js';
import type { RecordHandler } from './ringbuf.js';

export class PerfBuffer {
  private pb: Ptr | null;
  private readonly sampleCb: Ptr;
  private readonly lostCb: Ptr;
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** Samples the kernel could not store (PERF_RECORD_LOST). */
  lost = 0;
  received = 0;

  constructor(readonly fd: number, onRecord: RecordHandler, readonly name = 'events', pageCount = 64) {
    this.sampleCb = registerCallback((_ctx: Ptr, _cpu: number, data: Ptr, size: number) => {
      // The sample is only valid during the callback; the handler decodes it synchronously.
      const dv = new DataView(view(data, size));
      this.received++;
      onRecord(dv, 0, size);
    }, PerfSampleFn);
    this.lostCb = registerCallback((_ctx: Ptr, _cpu: number, cnt: bigint) => {
      this.lost += Number(cnt);
    }, PerfLostFn);
    this.pb = f.perf_buffer_new(fd, pageCount, this.sampleCb, this.lostCb, null, null);
    if (!this.pb) {
      const e = lastErrno();
      unregisterCallback(this.sampleCb);
      unregisterCallback(this.lostCb);
      throw bpfError(`opening perf buffer ${name}`, e);
    }
  }

  start(): this {
    if (this.timer || this.closed || !this.pb) return this;
    this.timer = setInterval(() => this.drain(), 10);
    return this;
  }

  unref(): this {
    this.timer?.unref();
    return this;
  }

  drain(): number {
    if (this.closed || !this.pb) return 0;
    const before = this.received;
    f.perf_buffer_consume(this.pb);
    return this.received - before;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pb) f.perf_buffer_free(this.pb);
    this.pb = null;
    unregisterCallback(this.sampleCb);
    unregisterCallback(this.lostCb);
  }
}
