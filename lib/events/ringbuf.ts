// BPF ring buffer consumed in JS over an mmap of the map: no FFI call per event (~30 ns/record for
// the ring walk against 0.2-1.8 µs through libbpf's callback). Woken by a libuv poll on the map fd,
// and looked at every 10 ms: bpfkit.h's producers wake the consumer only once an eighth of the ring
// waits (a wakeup costs a probe ~3 µs). Drains are budgeted so the event loop never stalls, and a busy
// drain backs off a few ms (never longer than a quarter of the ring takes to fill at the rate just
// seen) so that records are batched and the traced workload is not slowed by a wakeup per record.
import { mmapFd, munmap, pollFd, PROT_READ, PROT_WRITE, view, type Ptr } from '../libbpf/index.js';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
const PAGE = 4096;
// x86 keeps loads in program order (TSO): there a plain read of a record's header is the acquire load
// libbpf does with smp_load_acquire, and saves ~25 ns per record over Atomics.load.
const orderedLoads = process.arch === 'x64' || process.arch === 'ia32';
// a module constant, not the global: a global lookup costs ~0.5 µs inside a vm context (jest)
const atomicLoad = Atomics.load;
/** How often the consumer looks without being woken: the longest a record waits when records are few. */
const LOOK_MS = 10;
/** Rings being consumed, for drainOpenRings(). */
const open = new Set<RingBuffer>();

/** Delivers what every open ring holds now: at exit, the records not yet looked at. */
export function drainOpenRings(): void {
  for (const r of open) r.drain();
}

export type RecordHandler = (dv: DataView, offset: number, length: number) => void;

export interface RingOptions {
  /** Records per drain before yielding to the event loop. */
  budget?: number;
  /** A drain of at least this many records means "busy": pause polling for up to backoffMs. */
  busyThreshold?: number;
  /** The longest pause after a busy drain (default 4 ms); shorter when the ring would fill faster. */
  backoffMs?: number;
}

export class RingBuffer {
  private consPtr: Ptr;
  private prodPtr: Ptr;
  private readonly consPos: BigUint64Array;
  private readonly prodPos: BigUint64Array;
  private readonly data: DataView;
  private readonly words: Uint32Array;
  private readonly mask: number;
  private readonly prodLen: number;
  private poll?: ReturnType<typeof pollFd>;
  private look?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private closed = false;
  private unrefd = false;
  /** When the previous drain started (ms, performance.now()), to estimate the fill rate. */
  private lastDrainAt = 0;
  /** Records delivered so far. */
  received = 0;

  constructor(readonly fd: number, readonly size: number, private readonly onRecord: RecordHandler,
    private readonly opts: RingOptions = {}, readonly name = 'ringbuf') {
    this.mask = size - 1;
    this.consPtr = mmapFd(fd, PAGE, PROT_READ | PROT_WRITE, 0, `consumer page of ring buffer ${name}`);
    this.prodLen = PAGE + 2 * size;
    this.prodPtr = mmapFd(fd, this.prodLen, PROT_READ, PAGE, `data pages of ring buffer ${name}`);
    this.consPos = new BigUint64Array(view(this.consPtr, PAGE), 0, 1);
    const ab = view(this.prodPtr, this.prodLen);
    this.prodPos = new BigUint64Array(ab, 0, 1);
    // The data area is mapped twice back to back, so a record that wraps is contiguous.
    this.data = new DataView(ab, PAGE);
    this.words = new Uint32Array(ab, PAGE);
  }

  /** Starts consuming on the event loop. */
  start(): this {
    if (this.closed || this.poll) return this;
    this.poll = pollFd(this.fd, () => this.onReadable());
    this.look = setInterval(() => {
      if (this.pending()) this.onReadable();
    }, LOOK_MS);
    if (this.unrefd) {
      this.poll.unref();
      this.look.unref();
    }
    open.add(this);
    return this;
  }

  /** Lets the process exit while the ring is being consumed. */
  unref(): this {
    this.unrefd = true;
    this.poll?.unref();
    this.look?.unref();
    this.timer?.unref();
    return this;
  }

  private onReadable(): void {
    if (this.immediate || this.timer) return;
    const now = performance.now();
    const start = Number(Atomics.load(this.consPos, 0));
    const n = this.drain(this.opts.budget ?? 32768);
    if (this.closed) return;
    const sinceLast = now - this.lastDrainAt;
    this.lastDrainAt = now;
    if (this.pending()) {
      // More than a budget's worth is waiting: continue after the event loop had its turn.
      this.poll?.stop();
      this.immediate = setImmediate(() => this.resume());
    } else if (n >= (this.opts.busyThreshold ?? 256)) {
      // bytes/ms since the previous drain: pause no longer than a quarter of the ring takes to fill
      const rate = (Number(Atomics.load(this.consPos, 0)) - start) / Math.max(sinceLast, 0.01);
      const pause = Math.min(this.opts.backoffMs ?? 4, this.size / 4 / rate);
      if (pause < 0.5) return;
      this.poll?.stop();
      this.timer = setTimeout(() => this.resume(), pause);
      if (this.unrefd) this.timer.unref();
    }
  }

  private resume(): void {
    this.immediate = undefined;
    this.timer = undefined;
    if (this.closed) return;
    this.poll?.start();
    this.onReadable();
  }

  /** True when committed or in-flight records are waiting. */
  pending(): boolean {
    return Number(Atomics.load(this.consPos, 0)) < Number(Atomics.load(this.prodPos, 0));
  }

  /** Delivers up to `budget` records synchronously; returns how many were consumed. */
  drain(budget = Infinity): number {
    if (this.closed) return 0;
    const { words, data, mask, onRecord } = this;
    let cons = Number(Atomics.load(this.consPos, 0));
    const prod = Number(Atomics.load(this.prodPos, 0));
    let n = 0;
    let seen = 0;
    while (cons < prod && n < budget) {
      const off = cons & mask;
      const len = orderedLoads ? words[off >>> 2] : atomicLoad(words, off >>> 2);
      if (len & BUSY) break; // reserved but not yet committed
      const size = len & 0x3fffffff;
      cons += (size + HDR + 7) & ~7;
      if (!(len & DISCARD)) {
        n++;
        onRecord(data, off + HDR, size);
      }
      if ((++seen & 511) === 0) Atomics.store(this.consPos, 0, BigInt(cons)); // free space early
    }
    Atomics.store(this.consPos, 0, BigInt(cons));
    this.received += n;
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    if (this.look) clearInterval(this.look);
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.poll?.close(); // before unmapping: never leave a poll on a closing fd
    munmap(this.prodPtr, this.prodLen);
    munmap(this.consPtr, PAGE);
  }
}
