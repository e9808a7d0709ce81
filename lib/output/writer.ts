// Buffered output for tools that print thousands of lines a second.
//
// Lines collect in memory and go out in one write when 64 KiB are pending, ~50 ms after the first
// pending line, on flush(), on close() and when the process exits. For process.stdout/stderr (or
// any fd) the write is a synchronous fs.writeSync, so flush() is safe right before process.exit()
// or from a signal handler.
//
// Non-blocking pipes: Node puts the stdout pipe in O_NONBLOCK mode, so a slow reader (`| less`)
// makes writes fail with EAGAIN. flush() then sleeps and retries until everything is written (like
// a blocking write in C or Python). Automatic flushes (size or timer) only block for `blockMs`;
// after that the unwritten bytes stay in a backlog that a timer retries, so the event loop (ring
// buffer polling, signal handlers) keeps running; once the backlog exceeds `maxBacklogBytes`
// automatic flushes block too. Everything goes through the one fd, so output stays in order.
//
// EPIPE (`tool | head`) ends the process quietly with exit code 0.

import fs from 'node:fs';
import { toJson } from './json.js';

export interface OutputWriterOptions {
  /** Flush once this many characters are pending (default 64 KiB). */
  flushBytes?: number;
  /** Flush this long after data became pending (default 50 ms); 0 disables the timer. */
  flushMs?: number;
  /**
   * Write to this fd with fs.writeSync instead of stream.write (default: 1/2 for process.stdout/stderr
   * and 1 when no stream is given); null: always use stream.write.
   */
  fd?: number | null;
  /** How long an automatic flush may wait for a full pipe before deferring to a retry timer (default 100 ms). */
  blockMs?: number;
  /** Backlog size above which automatic flushes block until the reader catches up (default 16 MiB). */
  maxBacklogBytes?: number;
  /** Called when the reader has gone away (EPIPE). Default: process.exit(0). */
  onEpipe?: () => void;
  /** close() also ends the stream (never for process.stdout/stderr). Default false. */
  end?: boolean;
}

// shared by every bundled copy of this module (see lib/bpf.ts): one exit hook in all
const sharedWriters = globalThis as { __bpfkitLiveWriters?: Set<OutputWriter> };
const live: Set<OutputWriter> = (sharedWriters.__bpfkitLiveWriters ??= new Set<OutputWriter>());

function flushAllOnExit(): void {
  for (const w of live) {
    try {
      w.flush();
    } catch {
      // Nothing sensible to do while exiting.
    }
  }
}

let sleepCell: Int32Array | undefined;
function sleepSync(ms: number): void {
  sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleepCell, 0, 0, ms);
}

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as { code?: string }).code : undefined;
}

const hookedStreams = new WeakSet<NodeJS.WritableStream>();

export class OutputWriter {
  private chunks: string[] = [];
  private pending = 0;
  /** fd mode: encoded bytes the fd has not accepted yet. */
  private backlog: Buffer | null = null;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 5;
  private readonly flushBytes: number;
  private readonly flushMs: number;
  private readonly blockMs: number;
  private readonly maxBacklog: number;
  private readonly fd: number | undefined;
  private streamRef: NodeJS.WritableStream | undefined;
  private readonly onEpipe: () => void;
  private readonly endOnClose: boolean;
  private broken = false;
  private closed = false;
  private flushing = false;

  constructor(stream?: NodeJS.WritableStream, opts: OutputWriterOptions = {}) {
    this.flushBytes = opts.flushBytes ?? 64 * 1024;
    this.flushMs = opts.flushMs ?? 50;
    this.blockMs = opts.blockMs ?? 100;
    this.maxBacklog = opts.maxBacklogBytes ?? 16 * 1024 * 1024;
    this.onEpipe = opts.onEpipe ?? (() => process.exit(0));
    if (opts.fd === null) this.fd = undefined;
    else if (opts.fd !== undefined) this.fd = opts.fd;
    else if (stream === undefined) this.fd = 1; // process.stdout is not even created unless needed
    else if (stream === process.stdout) this.fd = 1;
    else if (stream === process.stderr) this.fd = 2;
    this.streamRef = stream;
    this.endOnClose = !!opts.end && stream !== undefined && stream !== process.stdout && stream !== process.stderr;
    if (stream) this.hookStream(stream);
    live.add(this);
    const hooked = globalThis as { __bpfkitWritersHooked?: boolean };
    if (!hooked.__bpfkitWritersHooked) {
      hooked.__bpfkitWritersHooked = true;
      process.on('exit', flushAllOnExit);
    }
  }

  private get stream(): NodeJS.WritableStream {
    if (!this.streamRef) {
      this.streamRef = this.fd === 2 ? process.stderr : process.stdout;
      this.hookStream(this.streamRef);
    }
    return this.streamRef;
  }

  /** EPIPE on the stream (ours or anyone's writes to it) ends quietly instead of an uncaught 'error'. */
  private hookStream(s: NodeJS.WritableStream): void {
    if (hookedStreams.has(s)) return;
    hookedStreams.add(s);
    s.on('error', (e: unknown) => {
      if (errCode(e) === 'EPIPE') {
        let handled = false;
        for (const w of live) {
          if (w.streamRef === s && !w.broken) {
            w.markBroken();
            if (!handled) w.onEpipe();
            handled = true;
          }
        }
        if (!handled) this.onEpipe();
        return;
      }
      // Not ours to swallow: behave as if nobody listened.
      throw e;
    });
  }

  private markBroken(): void {
    this.broken = true;
    this.chunks = [];
    this.pending = 0;
    this.backlog = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
  }

  /** Appends `s` and a newline. */
  line(s: string): void {
    this.write(s + '\n');
  }

  /** Appends `s` as is. */
  write(s: string): void {
    if (this.broken || this.closed || s.length === 0) return;
    this.chunks.push(s);
    this.pending += s.length;
    if (this.pending >= this.flushBytes) this.autoFlush();
    else if (this.flushMs > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.autoFlush();
      }, this.flushMs);
      this.timer.unref();
    }
  }

  /** One JSON document on one line (bigint-safe, see toJson). */
  json(obj: unknown): void {
    this.line(toJson(obj));
  }

  /** Characters buffered plus bytes waiting for a stalled reader. */
  get pendingChars(): number {
    return this.pending + (this.backlog ? this.backlog.length : 0);
  }

  /**
   * Writes everything pending. With a fd this is synchronous and returns only when all bytes are
   * written (waiting out a full pipe) or the reader is gone.
   */
  flush(): void {
    this.flushWithin(Infinity);
  }

  private autoFlush(): void {
    if (this.backlog && this.retryTimer && this.backlog.length < this.maxBacklog) {
      // The reader is stalled and a retry is scheduled: just queue behind the backlog.
      this.moveToBacklog();
      return;
    }
    const overfull = this.backlog !== null && this.backlog.length >= this.maxBacklog;
    this.flushWithin(overfull ? Infinity : this.blockMs);
  }

  private takeText(): string {
    const text = this.chunks.length === 1 ? this.chunks[0]! : this.chunks.join('');
    this.chunks = [];
    this.pending = 0;
    return text;
  }

  private moveToBacklog(): void {
    if (this.pending === 0) return;
    const b = Buffer.from(this.takeText(), 'utf8');
    this.backlog = this.backlog ? Buffer.concat([this.backlog, b]) : b;
  }

  private flushWithin(budgetMs: number): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.broken || this.flushing) return;
    if (this.fd === undefined) {
      if (this.pending > 0) this.streamWrite(this.takeText());
      return;
    }
    this.moveToBacklog();
    const buf = this.backlog;
    if (!buf) return;
    this.backlog = null;
    this.flushing = true;
    let off: number;
    try {
      off = this.fdWrite(buf, budgetMs);
    } finally {
      this.flushing = false;
    }
    if (off < 0) return; // EPIPE
    if (off < buf.length) {
      this.backlog = buf.subarray(off);
      this.scheduleRetry();
    } else {
      this.retryDelay = 5;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    // Deliberately not unref'd: a process that is otherwise done waits for its output to drain.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flushWithin(0);
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 100);
  }

  private streamWrite(data: string): void {
    try {
      this.stream.write(data);
    } catch (e) {
      const code = errCode(e);
      if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END') {
        this.epipe();
        return;
      }
      throw e;
    }
  }

  private epipe(): void {
    this.markBroken();
    this.onEpipe();
  }

  /** Writes from `buf` until done, EPIPE (-1) or EAGAIN outlasting `budgetMs`; returns bytes written. */
  private fdWrite(buf: Buffer, budgetMs: number): number {
    const fd = this.fd!;
    let off = 0;
    let waited = 0;
    let nap = 1;
    while (off < buf.length) {
      try {
        off += fs.writeSync(fd, buf, off, buf.length - off);
        nap = 1;
      } catch (e) {
        const code = errCode(e);
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          if (waited >= budgetMs) return off;
          sleepSync(nap);
          waited += nap;
          nap = Math.min(nap * 2, 20);
          continue;
        }
        if (code === 'EINTR') continue;
        if (code === 'EPIPE') {
          this.epipe();
          return -1;
        }
        throw e;
      }
    }
    return off;
  }

  /** Flushes (blocking), stops timers and detaches from process exit; later writes are ignored. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    live.delete(this);
    if (this.endOnClose && this.streamRef) this.streamRef.end();
  }
}

let shared: OutputWriter | undefined;

/** The process-wide writer for stdout (created on first use). */
export function stdoutWriter(): OutputWriter {
  shared ??= new OutputWriter();
  return shared;
}
