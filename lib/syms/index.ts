// Symbols: ELF files (symbol tables, segments, notes, USDT probes), kernel symbols (/proc/kallsyms),
// process symbols (/proc/PID/maps + ELF + vDSO + JIT perf maps), library resolution through
// /etc/ld.so.cache, C++ demangling, and BCC-style formatting of symbols and stacks.
export {
  ElfFile, parseUsdtArgs,
  STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_GNU_IFUNC, STB_LOCAL, STB_GLOBAL, STB_WEAK, PT_LOAD, PT_NOTE, PF_X, PF_W, PF_R,
  type ElfSection, type ElfSegment, type ElfSymbol, type ElfNote, type UsdtProbe, type UsdtArg, type SymbolAt,
} from './elf.js';
export { KernelSymbols, type KernelSymbol } from './kallsyms.js';
export { ProcessSymbols, PerfMap, parseMaps, type MapEntry, type ProcessSymbol, type ProcessSymbolsOptions } from './process.js';
export { functionOffset } from './offsets.js';
export { resolveLibrary, ldSoCache, parseLdSoCache, type LdCacheEntry } from './libraries.js';
export { demangle, type DemangleOptions } from './demangle.js';
export { formatSymbol, frameText, stackTrace, symbolizeStack, type FormatOptions, type StackOptions } from './format.js';

/** Resolved symbol as returned by KernelSymbols.resolve / ProcessSymbols.resolve. */
export interface ResolvedSymbol { name: string; offset: number; module?: string }
