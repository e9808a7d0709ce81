// bpfkit's public surface: `import { BPF } from 'bpfkit'`.
export { BPF, onlineCpus, type LoadOptions, type Program, type UprobeOptions, type PerfEventOptions, type Substitute, type Substitution } from './bpf.js';
export { BpfMap, MapType, sumPerCpu } from './maps/index.js';
export { Histogram, type HistogramData, type PrintOptions } from './maps/histogram.js';
export { RingBuffer } from './events/ringbuf.js';
export { PerfBuffer } from './events/perfbuf.js';
export { Btf, makeDecoder, makeEncoder, type DecodeOptions } from './btf/index.js';
export { compile, setCompiler, ClangCompiler, CompileError, type Compiler } from './compile/index.js';
export { features, featureReport, kindSupported } from './attach/features.js';
export { BpfError } from './libbpf/index.js';
export { ElfFile, KernelSymbols, ProcessSymbols, formatSymbol, stackTrace, symbolizeStack, resolveLibrary, demangle, parseUsdtArgs } from './syms/index.js';
export * as output from './output/index.js';
export { defineTool, opt, intervalCount, UsageError, ToolError, type ToolSpec, type ToolContext, type Invocation, type ReferenceSource } from './cli/index.js';
