// The only place with FFI declarations: libbpf.so.1 (Debian's 1.1.2) and the few libc calls we need.
// Every pointer is a bigint in koffi 3 (null for NULL). Opts structs use libbpf 1.1's layouts.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eachInParallel } from '../util/parallel.js';

type Koffi = typeof import('koffi').default;
const require = createRequire(import.meta.url);

/**
 * koffi's native addon, loaded directly when its platform package is where koffi 3 keeps it: koffi's own
 * loader (ELF and libc detection, deprecation wrappers) costs ~20 ms of CPU at every start, an eighth of
 * a tool's. Anything unexpected (another layout or version) takes koffi's loader.
 */
function loadKoffi(): Koffi {
  const addon = path.join('@koromix', `koffi-${process.platform}-${process.arch}`, `${process.platform}_${process.arch}`, 'koffi.node');
  // the node_modules above this file that has both, found as node's resolver would but without its
  // package.json and exports handling (~4 ms of a start)
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const modules = path.join(dir, 'node_modules');
    if (fs.existsSync(path.join(modules, addon))) {
      try {
        const native = require(path.join(modules, addon));
        if (native.version === JSON.parse(fs.readFileSync(path.join(modules, 'koffi', 'package.json'), 'utf8')).version) return native as Koffi;
      } catch { /* another layout: koffi finds it */ }
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  return require('koffi') as Koffi;
}
const koffi = loadKoffi();

export type Ptr = bigint;

// koffi's type registry is process-wide and refuses a name twice; a module evaluated twice (jest does
// that per test file) reuses the types already declared.
function named<T>(name: string, make: () => T): T {
  try {
    return koffi.type(name) as T;
  } catch {
    return make();
  }
}

type NativeFunction = ReturnType<ReturnType<Koffi['load']>['func']>;

/**
 * Functions declared on first use: a tool calls about half of these, and parsing a declaration costs
 * tens of µs (a few ms of every start for all of them).
 */
function onFirstUse<K extends string>(declarations: Record<K, () => NativeFunction>): Record<K, NativeFunction> {
  const fns = {} as Record<K, NativeFunction>;
  for (const name of Object.keys(declarations) as K[]) {
    Object.defineProperty(fns, name, {
      configurable: true,
      enumerable: true,
      get() {
        const fn = declarations[name]();
        Object.defineProperty(fns, name, { value: fn, enumerable: true });
        return fn;
      },
    });
  }
  return fns;
}

function declare() {
  const libbpf = koffi.load('libbpf.so.1');
  const libc = koffi.load('libc.so.6');

  named('bpf_object', () => koffi.opaque('bpf_object'));
  named('bpf_program', () => koffi.opaque('bpf_program'));
  named('bpf_map', () => koffi.opaque('bpf_map'));
  named('bpf_link', () => koffi.opaque('bpf_link'));
  named('btf', () => koffi.opaque('btf'));

  const OpenOpts = named('bpf_object_open_opts', () => koffi.struct('bpf_object_open_opts', {
    sz: 'size_t', object_name: 'const char *', relaxed_maps: 'bool', pin_root_path: 'const char *',
    _pad: 'uint32_t', kconfig: 'const char *', btf_custom_path: 'const char *',
    kernel_log_buf: 'void *', kernel_log_size: 'size_t', kernel_log_level: 'uint32_t',
  }));
  const UprobeOpts = named('bpf_uprobe_opts', () => koffi.struct('bpf_uprobe_opts', {
    sz: 'size_t', ref_ctr_offset: 'size_t', bpf_cookie: 'uint64_t', retprobe: 'bool', func_name: 'const char *',
  }));
  const KprobeOpts = named('bpf_kprobe_opts', () => koffi.struct('bpf_kprobe_opts', {
    sz: 'size_t', bpf_cookie: 'uint64_t', offset: 'size_t', retprobe: 'bool',
  }));
  const KprobeMultiOpts = named('bpf_kprobe_multi_opts', () => koffi.struct('bpf_kprobe_multi_opts', {
    sz: 'size_t', syms: 'const char **', addrs: 'const unsigned long *', cookies: 'const uint64_t *',
    cnt: 'size_t', retprobe: 'bool',
  }));
  const BatchOpts = named('bpf_map_batch_opts', () => koffi.struct('bpf_map_batch_opts', { sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t' }));
  const UsdtOpts = named('bpf_usdt_opts', () => koffi.struct('bpf_usdt_opts', { sz: 'size_t', usdt_cookie: 'uint64_t' }));
  const TracepointOpts = named('bpf_tracepoint_opts', () => koffi.struct('bpf_tracepoint_opts', { sz: 'size_t', bpf_cookie: 'uint64_t' }));

  const PerfSampleFn = named('perf_buffer_sample_fn', () => koffi.proto('void perf_buffer_sample_fn(void *ctx, int cpu, void *data, uint32_t size)'));
  const PerfLostFn = named('perf_buffer_lost_fn', () => koffi.proto('void perf_buffer_lost_fn(void *ctx, int cpu, uint64_t cnt)'));
  named('perf_buffer', () => koffi.opaque('perf_buffer'));

  const PrintFn = named('libbpf_print_fn', () => koffi.proto('int libbpf_print_fn(int level, void *fmt, void *ap)'));

  const fns = onFirstUse({
    // objects
    open_mem: () => libbpf.func('bpf_object *bpf_object__open_mem(const void *buf, size_t sz, const bpf_object_open_opts *opts)'),
    load: () => libbpf.func('int bpf_object__load(bpf_object *obj)'),
    close: () => libbpf.func('void bpf_object__close(bpf_object *obj)'),
    object_btf: () => libbpf.func('btf *bpf_object__btf(const bpf_object *obj)'),
    btf_raw_data: () => libbpf.func('const void *btf__raw_data(const btf *btf, _Out_ uint32_t *size)'),
    next_program: () => libbpf.func('bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prog)'),
    next_map: () => libbpf.func('bpf_map *bpf_object__next_map(const bpf_object *obj, const bpf_map *map)'),
    // programs
    prog_name: () => libbpf.func('const char *bpf_program__name(const bpf_program *prog)'),
    prog_section: () => libbpf.func('const char *bpf_program__section_name(const bpf_program *prog)'),
    prog_fd: () => libbpf.func('int bpf_program__fd(const bpf_program *prog)'),
    obj_get_info_by_fd: () => libbpf.func('int bpf_obj_get_info_by_fd(int bpf_fd, void *info, _Inout_ uint32_t *info_len)'),
    prog_type: () => libbpf.func('int bpf_program__type(const bpf_program *prog)'),
    prog_set_type: () => libbpf.func('int bpf_program__set_type(bpf_program *prog, int type)'),
    prog_set_expected_attach_type: () => libbpf.func('int bpf_program__set_expected_attach_type(bpf_program *prog, int type)'),
    prog_set_attach_target: () => libbpf.func('int bpf_program__set_attach_target(bpf_program *prog, int fd, const char *name)'),
    prog_set_autoload: () => libbpf.func('int bpf_program__set_autoload(bpf_program *prog, bool autoload)'),
    prog_autoload: () => libbpf.func('bool bpf_program__autoload(const bpf_program *prog)'),
    // attach
    attach: () => libbpf.func('bpf_link *bpf_program__attach(const bpf_program *prog)'),
    attach_tracepoint: () => libbpf.func('bpf_link *bpf_program__attach_tracepoint(const bpf_program *prog, const char *category, const char *name)'),
    attach_tracepoint_opts: () => libbpf.func('bpf_link *bpf_program__attach_tracepoint_opts(const bpf_program *prog, const char *category, const char *name, const bpf_tracepoint_opts *opts)'),
    attach_raw_tracepoint: () => libbpf.func('bpf_link *bpf_program__attach_raw_tracepoint(const bpf_program *prog, const char *name)'),
    attach_trace: () => libbpf.func('bpf_link *bpf_program__attach_trace(const bpf_program *prog)'),
    attach_uprobe_opts: () => libbpf.func('bpf_link *bpf_program__attach_uprobe_opts(const bpf_program *prog, int pid, const char *path, size_t off, const bpf_uprobe_opts *opts)'),
    attach_kprobe_opts: () => libbpf.func('bpf_link *bpf_program__attach_kprobe_opts(const bpf_program *prog, const char *func, const bpf_kprobe_opts *opts)'),
    attach_kprobe_multi_opts: () => libbpf.func('bpf_link *bpf_program__attach_kprobe_multi_opts(const bpf_program *prog, const char *pattern, const bpf_kprobe_multi_opts *opts)'),
    attach_usdt: () => libbpf.func('bpf_link *bpf_program__attach_usdt(const bpf_program *prog, int pid, const char *path, const char *provider, const char *name, const bpf_usdt_opts *opts)'),
    attach_perf_event: () => libbpf.func('bpf_link *bpf_program__attach_perf_event(const bpf_program *prog, int pfd)'),
    link_destroy: () => libbpf.func('int bpf_link__destroy(bpf_link *link)'),
    link_fd: () => libbpf.func('int bpf_link__fd(const bpf_link *link)'),
    link_disconnect: () => libbpf.func('void bpf_link__disconnect(bpf_link *link)'),
    // maps (object side)
    map_name: () => libbpf.func('const char *bpf_map__name(const bpf_map *map)'),
    map_fd: () => libbpf.func('int bpf_map__fd(const bpf_map *map)'),
    map_type: () => libbpf.func('int bpf_map__type(const bpf_map *map)'),
    map_key_size: () => libbpf.func('uint32_t bpf_map__key_size(const bpf_map *map)'),
    map_value_size: () => libbpf.func('uint32_t bpf_map__value_size(const bpf_map *map)'),
    map_max_entries: () => libbpf.func('uint32_t bpf_map__max_entries(const bpf_map *map)'),
    map_set_max_entries: () => libbpf.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max)'),
    map_set_autocreate: () => libbpf.func('int bpf_map__set_autocreate(bpf_map *map, bool autocreate)'),
    map_btf_key_type_id: () => libbpf.func('uint32_t bpf_map__btf_key_type_id(const bpf_map *map)'),
    map_btf_value_type_id: () => libbpf.func('uint32_t bpf_map__btf_value_type_id(const bpf_map *map)'),
    map_initial_value: () => libbpf.func('void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *psize)'),
    // maps (fd side)
    map_lookup_elem: () => libbpf.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
    map_update_elem: () => libbpf.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
    map_delete_elem: () => libbpf.func('int bpf_map_delete_elem(int fd, const void *key)'),
    map_get_next_key: () => libbpf.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
    map_lookup_batch: () => libbpf.func('int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
    map_lookup_and_delete_batch: () => libbpf.func('int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
    // perf buffers (fallback for kernels without ring buffers)
    perf_buffer_new: () => libbpf.func('perf_buffer *perf_buffer__new(int map_fd, size_t page_cnt, perf_buffer_sample_fn *sample_cb, perf_buffer_lost_fn *lost_cb, void *ctx, const void *opts)'),
    perf_buffer_consume: () => libbpf.func('int perf_buffer__consume(perf_buffer *pb)'),
    perf_buffer_free: () => libbpf.func('void perf_buffer__free(perf_buffer *pb)'),
    // misc
    num_possible_cpus: () => libbpf.func('int libbpf_num_possible_cpus(void)'),
    strerror: () => libbpf.func('int libbpf_strerror(int err, _Out_ char *buf, size_t size)'),
    set_print: () => libbpf.func('void *libbpf_set_print(libbpf_print_fn *fn)'),
    probe_prog_type: () => libbpf.func('int libbpf_probe_bpf_prog_type(int prog_type, const void *opts)'),
    probe_map_type: () => libbpf.func('int libbpf_probe_bpf_map_type(int map_type, const void *opts)'),
    // libc
    vsnprintf: () => libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t n, void *fmt, void *ap)'),
    mmap: () => libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
    munmap: () => libc.func('int munmap(void *addr, size_t len)'),
    syscall5: () => libc.func('long syscall(long nr, ...)'),
    closefd: () => libc.func('int close(int fd)'),
    ioctl: () => libc.func('int ioctl(int fd, unsigned long req, ...)'),
    _exit: () => libc.func('void _exit(int status)'),
  });
  return { fns, OpenOpts, UprobeOpts, KprobeOpts, KprobeMultiOpts, BatchOpts, UsdtOpts, TracepointOpts, PrintFn, PerfSampleFn, PerfLostFn };
}

const decl = declare();
const { OpenOpts, UprobeOpts, KprobeOpts, KprobeMultiOpts, BatchOpts, UsdtOpts, TracepointOpts, PrintFn } = decl;
export const { PerfSampleFn, PerfLostFn } = decl;
const f = decl.fns;

// ---------------------------------------------------------------- errors
const errnoNames: Record<number, string> = {};
for (const [name, num] of Object.entries(os.constants.errno)) errnoNames[num] ??= name;

export function errnoName(err: number): string {
  return errnoNames[Math.abs(err)] ?? `errno ${Math.abs(err)}`;
}

export function strerror(err: number): string {
  const buf = Buffer.alloc(256);
  f.strerror(-Math.abs(err), buf, buf.length);
  const s = buf.toString('utf8', 0, buf.indexOf(0));
  return s || `error ${err}`;
}

/** An operation on a named object failed: carries errno and the relevant libbpf log lines. */
export class BpfError extends Error {
  constructor(message: string, readonly errno: number, readonly log: string[] = []) {
    super(message);
    this.name = 'BpfError';
  }
}

function describe(err: number): string {
  const e = Math.abs(err);
  return e >= 4000 ? strerror(e) : `${errnoName(e)}: ${strerror(e)}`;
}

/** Builds an Error for `what` from a negative return or errno; EPERM/EACCES get the privilege hint. */
export function bpfError(what: string, err: number, log: string[] = []): BpfError {
  const e = Math.abs(err);
  let msg = `${what}: ${describe(e)}`;
  if (e === os.constants.errno.EPERM && process.getuid?.() !== 0) {
    msg += ' (bpfkit needs root, or CAP_BPF and CAP_PERFMON)';
  }
  return new BpfError(msg, e, log);
}

/** int-returning libbpf calls: negative means -errno. */
export function checkInt(ret: number, what: string): number {
  if (ret < 0) throw bpfError(what, ret, takeLog());
  return ret;
}

/** pointer-returning libbpf calls: null means failure with errno set. */
export function checkPtr<T>(ptr: T | null, what: string): T {
  if (ptr === null || ptr === undefined || ptr === 0n) {
    const e = koffi.errno() || os.constants.errno.EINVAL;
    throw bpfError(what, e, takeLog());
  }
  return ptr;
}

// ---------------------------------------------------------------- libbpf's log
// libbpf prints warnings (incl. the verifier log on a failed load) through a callback; we keep the
// recent lines so errors can quote them, and echo them only in debug mode.
const LOG_LIMIT = 400;
let logLines: string[] = [];
let debugLog = process.env.BPFKIT_DEBUG === '1';
const printBuf = Buffer.alloc(16384);
const printCb = koffi.register((level: number, fmt: Ptr, ap: Ptr) => {
  const n = f.vsnprintf(printBuf, printBuf.length, fmt, ap);
  const text = printBuf.toString('utf8', 0, Math.min(n, printBuf.length - 1));
  for (const line of text.split('\n')) if (line) logLines.push(line);
  if (logLines.length > LOG_LIMIT) logLines = logLines.slice(-LOG_LIMIT);
  if (debugLog) process.stderr.write(`libbpf[${level}]: ${text}`);
  return 0;
}, koffi.pointer(PrintFn));
f.set_print(printCb);

/** Returns and clears libbpf's log lines gathered since the last call. */
export function takeLog(): string[] {
  const l = logLines;
  logLines = [];
  return l;
}

export function setDebugLog(on: boolean): void {
  debugLog = on;
}

// ---------------------------------------------------------------- opts builders
/** btfCustomPath: the kernel types CO-RE relocates against, instead of the whole kernel BTF (libbpf copies it). */
export function openOpts(objectName: string, btfCustomPath: string | null = null) {
  return { sz: koffi.sizeof(OpenOpts), object_name: objectName, relaxed_maps: false, pin_root_path: null, _pad: 0,
    kconfig: null, btf_custom_path: btfCustomPath, kernel_log_buf: null, kernel_log_size: 0, kernel_log_level: 0 };
}
export function uprobeOpts(retprobe: boolean, funcName: string | null, cookie = 0n) {
  return { sz: koffi.sizeof(UprobeOpts), ref_ctr_offset: 0, bpf_cookie: cookie, retprobe, func_name: funcName };
}
export function kprobeOpts(retprobe: boolean, offset = 0, cookie = 0n) {
  return { sz: koffi.sizeof(KprobeOpts), bpf_cookie: cookie, offset, retprobe };
}
export function kprobeMultiOpts(retprobe: boolean, syms: string[] | null, cookies: bigint[] | null = null) {
  return { sz: koffi.sizeof(KprobeMultiOpts), syms, addrs: null, cookies, cnt: syms ? syms.length : 0, retprobe };
}
export function usdtOpts(cookie: bigint) {
  return { sz: koffi.sizeof(UsdtOpts), usdt_cookie: cookie };
}
export function tracepointOpts(cookie: bigint) {
  return { sz: koffi.sizeof(TracepointOpts), bpf_cookie: cookie };
}
export function batchOpts() {
  return { sz: koffi.sizeof(BatchOpts), elem_flags: 0n, flags: 0n };
}

export const libbpfFns = f;

// ---------------------------------------------------------------- memory helpers
export const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;

export function mmapFd(fd: number, length: number, prot: number, offset: number, what: string): Ptr {
  const p = f.mmap(null, length, prot, MAP_SHARED, fd, offset) as Ptr | null;
  if (p === null || BigInt.asUintN(64, BigInt(p)) === MAP_FAILED) throw bpfError(`mmap ${what}`, koffi.errno());
  return p;
}

export function munmap(p: Ptr, length: number): void {
  f.munmap(p, length);
}

/** An ArrayBuffer over native memory (make it once, not per event: ~1.5 µs each). */
export function view(p: Ptr, length: number): ArrayBuffer {
  return koffi.view(p, length);
}

export function registerCallback(fn: Function, proto: unknown): Ptr {
  return koffi.register(fn, koffi.pointer(proto as any));
}

export function unregisterCallback(p: Ptr): void {
  koffi.unregister(p);
}

/**
 * Destroys links on libuv's worker threads, all at once. Closing a tracepoint's perf event waits for
 * RCU grace periods (perf_trace_destroy -> tracepoint_synchronize_unregister, ~70 ms here), partly
 * under the kernel's event_mutex: one after another opensnoop's 6 took ~0.45 s, together ~0.3 s.
 */
export async function destroyLinksConcurrently(links: Ptr[]): Promise<void> {
  const destroyAsync = (f.link_destroy as unknown as { async(link: Ptr, cb: (err: unknown) => void): void }).async;
  // koffi refuses more than a few hundred asynchronous calls in flight: a bounded number at a time
  await eachInParallel(links, 32, l => new Promise<void>(resolve => destroyAsync(l, () => resolve())));
}

/** Ends the process at once, as _exit(2): no atexit handlers, no node teardown (see lib/cli/exit.ts). */
export function exitImmediately(code: number): never {
  f._exit(code);
  throw new Error('_exit returned');
}

/**
 * Frees a link's memory and returns its fd, still open and now the caller's: disconnected first, so that
 * libbpf neither detaches nor closes anything (the caller hands the fd on, see BPF.closeForExit).
 * A perf-event link keeps its perf event's own fd open until the process exits; the link holds that event.
 */
export function releaseLinkFd(link: Ptr): number {
  const fd = f.link_fd(link) as number;
  f.link_disconnect(link);
  f.link_destroy(link);
  return fd;
}

/** struct bpf_prog_info (uapi bpf.h): its size up to recursion_misses, and that field's offset. */
const PROG_INFO_SIZE = 216;
const PROG_INFO_RECURSION_MISSES = 208;

/**
 * How many times the kernel skipped a program because it was already running on that CPU
 * (bpf_prog_info.recursion_misses): a raw_tp/tp_btf/fentry program whose own run was interrupted by
 * its event, or a kprobe/tracepoint program while any such program ran there (bpf_prog_active).
 */
export function programRecursionMisses(progFd: number): number {
  const info = Buffer.alloc(PROG_INFO_SIZE);
  const len = [PROG_INFO_SIZE];
  checkInt(f.obj_get_info_by_fd(progFd, info, len) as number, 'reading a BPF program\'s info');
  return len[0] >= PROG_INFO_RECURSION_MISSES + 8 ? Number(info.readBigUInt64LE(PROG_INFO_RECURSION_MISSES)) : 0;
}

export function closeFd(fd: number): void {
  f.closefd(fd);
}

export function lastErrno(): number {
  return koffi.errno();
}

// ---------------------------------------------------------------- perf_event_open
const SYS_perf_event_open = process.arch === 'arm64' ? 241 : 298;
const PERF_EVENT_IOC_ENABLE = 0x2400;

/** perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC); attr is a 128-byte perf_event_attr. */
export function perfEventOpen(attr: Buffer, pid: number, cpu: number, what: string): number {
  const fd = Number(f.syscall5(SYS_perf_event_open, 'void *', attr, 'int', pid, 'int', cpu, 'int', -1, 'unsigned long', 8));
  if (fd < 0) throw bpfError(what, koffi.errno());
  return fd;
}

export function perfEventEnable(fd: number): void {
  f.ioctl(fd, PERF_EVENT_IOC_ENABLE, 'int', 0);
}

export function pollFd(fd: number, cb: () => void): { stop(): void; start(): void; close(): void; unref(): void } {
  const h = (koffi as any).node.poll(fd, { readable: true }, () => cb());
  return {
    stop: () => h.stop(),
    start: () => h.start({ readable: true }, () => cb()),
    close: () => h.close(),
    unref: () => h.unref(),
  };
}
