// Probe specifications for the generic tools (funccount, funclatency, funcslower, funcinterval, trace,
// argdist, stackcount, tplist): BCC's syntax parsed once, resolved to this machine's targets, turned
// into BPF C by one code generator.
//
// API (stable; additions only):
//   parseProbeSpec(text, { regex?, allow? }) -> ProbeSpec        spec.ts; throws ProbeSpecError (quotes the bad part)
//     forms: func | p::func | r::func | p::func+0x10 | t:cat:event | lib:func | p:lib:func | c:func |
//            r:lib:func | u:lib:probe | u:lib:provider:probe;  lib = "c", "libfoo.so.1", "bash", "/path/bin"
//     globs * ? [..] anywhere in a name (`vfs_*`, `t:syscalls:sys_enter_*`, `c:str*`); regex: true = -r
//     (Python re.match: anchored at the start only). Tools whose spec has more after the probe (trace's
//     filter and format, argdist's signature) cut the probe part off first and parse that.
//   resolveProbes(specs, { pid? }) -> ResolvedProbe[]            resolve.ts; throws ProbeResolveError
//     each target once, `id` = index (the key generated programs report under), `label` = what BCC prints
//     kprobe/kretprobe {function, offset?}  tracepoint {category, event}
//     uprobe/uretprobe {binary (absolute), symbol, address, fileOffset}  usdt {binary, provider, name, args, sites}
//   parseAndResolve(texts, opts) -> { specs, probes }            both steps, for a tool's positional specs
//   tracepointList(), mappedFiles(pid), describeTarget(t), nameMatcher(pattern, regex)
//   Code generation: codegen.ts — generateProgram(probes, { prelude, onHit, onReturn?, tracepointArgs? }) -> { text,
//     rodata({ pid, cpu }), methods }, unsupportedReason(gen), attachProbes(bpf, gen, { pid }); see its header and
//     docs/guide.md ("Probe specifications").
//   Timed calls (entry/return pairs on a per-thread stack): latency.ts — latencyCodegen({ prelude, onLatency, ... }).
export {
  parseProbeSpec, formatProbeSpec, describeType, nameMatcher, ProbeSpecError,
  type ProbeSpec, type ProbeType, type ParseOptions,
} from './spec.js';
export {
  resolveProbes, resolveProbe, representativeProbes, ONE_OF_EACH_KIND, tracepointList, mappedFiles, describeTarget, resetProbeCaches, ProbeResolveError,
  type ResolvedProbe, type KernelFunctionTarget, type TracepointTarget, type UserFunctionTarget, type UsdtTarget, type ResolveOptions,
} from './resolve.js';

import { parseProbeSpec, ProbeSpecError, type ParseOptions, type ProbeSpec } from './spec.js';
import { ProbeResolveError, resolveProbes, type ResolveOptions, type ResolvedProbe } from './resolve.js';

/** Parses every spec, then resolves them all (errors: ProbeSpecError, then ProbeResolveError). */
export function parseAndResolve(texts: string[], opts: ParseOptions & ResolveOptions = {}): { specs: ProbeSpec[]; probes: ResolvedProbe[] } {
  const specs = texts.map(t => parseProbeSpec(t, opts));
  return { specs, probes: resolveProbes(specs, opts) };
}

/**
 * A tool's positional specs parsed and resolved, each refused target named (`refuse` says why), or
 * the one-line error of the parser or resolver as `usage(message)` builds it (a UsageError).
 */
export function resolveSpecs(texts: string[], opts: ParseOptions & { pid?: number }, usage: (message: string) => Error,
  refuse?: (p: ResolvedProbe) => string | undefined): ResolvedProbe[] {
  let probes: ResolvedProbe[];
  try {
    probes = resolveProbes(texts.map(t => parseProbeSpec(t, opts)), opts);
  } catch (e) {
    if (e instanceof ProbeSpecError || e instanceof ProbeResolveError) throw usage(e.message);
    throw e;
  }
  for (const p of probes) {
    const why = refuse?.(p);
    if (why) throw usage(why);
  }
  return probes;
}
