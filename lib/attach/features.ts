// Kernel feature detection: which probe kinds work here. Cheap checks read sysfs/tracefs; the BTF
// trampoline kinds (fentry/fexit/tp_btf) need a real load+attach of a tiny program, so their answers
// are cached per boot in /run/bpfkit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compile } from '../compile/index.js';
import { tracefsDir } from '../compile/tracepoints.js';
import { kprobeMultiOpts, libbpfFns as f, openOpts, takeLog, type Ptr } from '../libbpf/index.js';
import type { ProbeKind } from './sections.js';
import { writeAtomic } from '../util/files.js';

const BPF_PROG_TYPE_KPROBE = 2, BPF_PROG_TYPE_TRACEPOINT = 5, BPF_PROG_TYPE_PERF_EVENT = 7, BPF_PROG_TYPE_RAW_TRACEPOINT = 17;
const BPF_MAP_TYPE_RINGBUF = 27;

export interface Feature {
  ok: boolean;
  /** Why not, in words a user can act on. */
  why?: string;
}

export const featureProbeName = 'feature-probe.bpf.c';
export const featureProbeSource = `#include <bpfkit.h>
SEC("fentry/vfs_read") int BPF_PROG(probe_fentry) { return 0; }
SEC("fexit/vfs_read") int BPF_PROG(probe_fexit) { return 0; }
SEC("tp_btf/sched_switch") int BPF_PROG(probe_tp_btf) { return 0; }
SEC("kprobe.multi") int BPF_KPROBE(probe_kprobe_multi) { return 0; }
`;

const memo = new Map<string, Feature>();

function bootCacheFile(): string | undefined {
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return path.join('/run/bpfkit', `features-${boot}.json`);
  } catch {
    return undefined;
  }
}

function loadBootCache(): Record<string, Feature> {
  const file = bootCacheFile();
  if (!file) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

function saveBootCache(key: string, value: Feature): void {
  const file = bootCacheFile();
  if (!file) return;
  try {
    writeAtomic(file, JSON.stringify({ ...loadBootCache(), [key]: value }));
  } catch { /* not root or read-only /run: detect again next time */ }
}

/**
 * Loads and attaches one of the probe programs (then detaches it): ok when the kernel accepts both.
 * `attach` defaults to the program's own SEC() target.
 */
function probeWorks(progName: string, what: string, attach: (prog: Ptr) => Ptr | null = prog => f.attach(prog) as Ptr | null): Feature {
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) return { ok: false, why: 'this kernel has no BTF (/sys/kernel/btf/vmlinux)' };
  const { elf } = compile({ text: featureProbeSource, name: featureProbeName });
  const obj = f.open_mem(elf, elf.length, openOpts('feature_probe'));
  if (!obj) return { ok: false, why: 'cannot open the feature probe' };
  let link = null;
  try {
    let target = null;
    for (let p = f.next_program(obj, null); p; p = f.next_program(obj, p)) {
      const keep = f.prog_name(p) === progName;
      f.prog_set_autoload(p, keep);
      if (keep) target = p;
    }
    const err = f.load(obj);
    takeLog();
    if (err < 0) return { ok: false, why: `the kernel refuses to load ${what} programs (${os.constants.errno.EPERM === -err ? 'EPERM' : `errno ${-err}`})` };
    link = attach(target);
    takeLog();
    if (!link) return { ok: false, why: `the kernel refuses to attach ${what} programs` };
    return { ok: true };
  } finally {
    if (link) f.link_destroy(link);
    f.close(obj);
  }
}

/**
 * The running kernel's build configuration (/proc/config.gz, else /boot/config-<release>) as
 * CONFIG_X -> value ('y', 'm', ...; a "# CONFIG_X is not set" line is absent), or undefined when neither is there.
 */
export function kernelConfig(): Map<string, string> | undefined {
  if (configMemo === undefined) configMemo = readKernelConfig() ?? null;
  return configMemo ?? undefined;
}
let configMemo: Map<string, string> | null | undefined;

function readKernelConfig(): Map<string, string> | undefined {
  let text: string | undefined;
  try {
    // zlib on first use: loading it costs every start ~5 ms (it brings node's zip support along)
    const zlib = process.getBuiltinModule('node:zlib');
    text = zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    try {
      text = fs.readFileSync(`/boot/config-${os.release()}`, 'utf8');
    } catch {
      return undefined;
    }
  }
  const config = new Map<string, string>();
  for (const m of text.matchAll(/^(CONFIG_\w+)=(.*)$/gm)) config.set(m[1]!, m[2]!);
  return config;
}

/** kprobe.multi links (fprobe): one link for many functions; tried on vfs_read, traceable everywhere. */
function kprobeMultiWorks(): Feature {
  return probeWorks('probe_kprobe_multi', 'kprobe.multi',
    prog => f.attach_kprobe_multi_opts(prog, null, kprobeMultiOpts(false, ['vfs_read'])) as Ptr | null);
}

/** Why kprobe.multi links fail: the cause when the kernel's config says it, else both possible ones. */
function kprobeMultiMissing(): Feature {
  const config = kernelConfig();
  if (config && !config.has('CONFIG_FPROBE')) return { ok: false, why: 'this kernel was built without CONFIG_FPROBE (kprobe.multi links)' };
  if (config && !config.has('CONFIG_KPROBES')) return { ok: false, why: 'this kernel was built without CONFIG_KPROBES' };
  return { ok: false, why: 'kprobe.multi links unavailable (needs Linux 5.18+ with CONFIG_FPROBE)' };
}

function check(key: string, detect: () => Feature, perBoot = false): Feature {
  const m = memo.get(key);
  if (m) return m;
  let v: Feature | undefined;
  if (perBoot) v = loadBootCache()[key];
  if (!v) {
    v = detect();
    if (perBoot) saveBootCache(key, v);
  }
  memo.set(key, v);
  return v;
}

const pmuExists = (name: string) => fs.existsSync(`/sys/bus/event_source/devices/${name}/type`);

export const features = {
  btf: () => check('btf', () => fs.existsSync('/sys/kernel/btf/vmlinux') ? { ok: true } : { ok: false, why: 'no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF is off)' }),
  tracefs: () => check('tracefs', () => fs.existsSync(`${tracefsDir()}/events`) ? { ok: true } : { ok: false, why: 'tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)' }),
  kprobes: () => check('kprobes', () => pmuExists('kprobe') || fs.existsSync(`${tracefsDir()}/kprobe_events`)
    ? { ok: true } : { ok: false, why: 'this kernel was built without CONFIG_KPROBES' }),
  uprobes: () => check('uprobes', () => pmuExists('uprobe') || fs.existsSync(`${tracefsDir()}/uprobe_events`)
    ? { ok: true } : { ok: false, why: 'this kernel was built without CONFIG_UPROBES' }),
  tracepoints: () => check('tracepoints', () => f.probe_prog_type(BPF_PROG_TYPE_TRACEPOINT, null) === 1 ? { ok: true } : { ok: false, why: 'BPF tracepoint programs are not supported' }),
  rawTracepoints: () => check('raw_tp', () => f.probe_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, null) === 1 ? { ok: true } : { ok: false, why: 'raw tracepoints need Linux 4.17+' }),
  perfEvent: () => check('perf_event', () => f.probe_prog_type(BPF_PROG_TYPE_PERF_EVENT, null) === 1 ? { ok: true } : { ok: false, why: 'BPF perf_event programs are not supported' }),
  kprobeProgs: () => check('kprobe_progs', () => f.probe_prog_type(BPF_PROG_TYPE_KPROBE, null) === 1 ? { ok: true } : { ok: false, why: 'BPF kprobe programs are not supported' }),
  ringbuf: () => check('ringbuf', () => f.probe_map_type(BPF_MAP_TYPE_RINGBUF, null) === 1 ? { ok: true } : { ok: false, why: 'BPF ring buffers need Linux 5.8+' }),
  fentry: () => check('fentry', () => probeWorks('probe_fentry', 'fentry'), true),
  fexit: () => check('fexit', () => probeWorks('probe_fexit', 'fexit'), true),
  tpBtf: () => check('tp_btf', () => probeWorks('probe_tp_btf', 'tp_btf'), true),
  // the words are not cached with the answer: they read the kernel's config
  kprobeMulti: () => (check('kprobe_multi', kprobeMultiWorks, true).ok ? { ok: true } : kprobeMultiMissing()),
};

/** Whether a probe kind can work on this kernel at all (the target may still be missing). */
export function kindSupported(kind: ProbeKind): Feature {
  switch (kind) {
    case 'tracepoint': {
      const t = features.tracefs();
      return t.ok ? features.tracepoints() : t;
    }
    case 'raw_tp': return features.rawTracepoints();
    case 'tp_btf': return features.btf().ok ? features.tpBtf() : features.btf();
    case 'fentry': return features.btf().ok ? features.fentry() : features.btf();
    case 'fexit': return features.btf().ok ? features.fexit() : features.btf();
    case 'kprobe': case 'kretprobe': case 'ksyscall': case 'kretsyscall':
      return features.kprobes();
    // without kprobe.multi links, the program is loaded as a plain kprobe and attached per function
    case 'kprobe.multi': case 'kretprobe.multi': {
      const kprobes = features.kprobes();
      return kprobes.ok || !features.kprobeMulti().ok ? kprobes : features.kprobeMulti();
    }
    case 'uprobe': case 'uretprobe': case 'usdt': return features.uprobes();
    case 'perf_event': return features.perfEvent();
    default: return { ok: true };
  }
}

/** Name of the kernel feature a kind needs, for error messages ("needs kprobes: ..."). */
export function kindFeatureName(kind: ProbeKind): string {
  switch (kind) {
    case 'kprobe': case 'kretprobe': case 'ksyscall': case 'kretsyscall': case 'kprobe.multi': case 'kretprobe.multi': return 'kprobes';
    case 'fentry': return 'fentry (BPF trampolines)';
    case 'fexit': return 'fexit (BPF trampolines)';
    case 'tp_btf': return 'BTF tracepoints (tp_btf)';
    case 'raw_tp': return 'raw tracepoints';
    case 'uprobe': case 'uretprobe': case 'usdt': return 'uprobes';
    default: return kind;
  }
}

export function tracepointExists(category: string, event: string): boolean {
  return fs.existsSync(`${tracefsDir()}/events/${category}/${event}`);
}

/** raw_tp/tp_btf name only the event: find it in any category. */
export function rawTracepointExists(event: string): boolean {
  const ev = `${tracefsDir()}/events`;
  // most events live in the category their name starts with (sched_switch in sched/): one lookup, not ~100
  const prefix = event.split('_')[0];
  if (fs.existsSync(`${ev}/${prefix}/${event}`)) return true;
  try {
    for (const cat of fs.readdirSync(ev)) if (fs.existsSync(`${ev}/${cat}/${event}`)) return true;
  } catch {
    return true; // no tracefs: let the kernel decide
  }
  return false;
}

export function featureReport(): { feature: string; ok: boolean; why?: string }[] {
  return Object.entries(features).map(([name, fn]) => ({ feature: name, ...fn() }));
}
