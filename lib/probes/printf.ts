// The printf-style formats of trace (BCC's): "%s %d %u %x %llu %p %K %U ...". Each conversion decides
// how its argument is stored in the event (a C type, or a char array for %s) and how user space prints
// it (%K a kernel symbol, %U a user symbol of the event's process, %p 0x-hex).

export type Conversion =
  | 's' | 'c' | 'd' | 'u' | 'x' | 'X' | 'p' | 'K' | 'U'
  | 'ld' | 'lu' | 'lx' | 'lld' | 'llu' | 'llx' | 'hd' | 'hu' | 'hx' | 'i' | 'li' | 'lli';

export interface FormatPiece {
  /** Literal text, or a conversion with its flags and width ("-10"). */
  text?: string;
  conversion?: Conversion;
  flags?: string;
}

/** C type the BPF side casts the value to before storing it widened to 64 bits (BCC's c_type). */
export const CONVERSION_C_TYPE: Record<Conversion, string | undefined> = {
  s: undefined, c: 'char', d: 'int', i: 'int', u: 'unsigned int', x: 'unsigned int', X: 'unsigned int',
  ld: 'long', li: 'long', lu: 'unsigned long', lx: 'unsigned long', lld: 'long long', lli: 'long long',
  llu: 'unsigned long long', llx: 'unsigned long long', hd: 'short', hu: 'unsigned short', hx: 'unsigned short',
  p: 'unsigned long', K: 'unsigned long long', U: 'unsigned long long',
};

export function isSigned(c: Conversion): boolean {
  return c === 'd' || c === 'i' || c === 'ld' || c === 'li' || c === 'lld' || c === 'lli' || c === 'hd' || c === 'c';
}

export class FormatError extends Error {
  constructor(readonly at: string, reason: string) {
    super(reason);
  }
}

/** Splits a format (without its quotes) into literal text and conversions; throws FormatError at a bad %. */
export function parseFormat(format: string): FormatPiece[] {
  const out: FormatPiece[] = [];
  let lit = '';
  const re = /%([-+ 0#]*\d*(?:\.\d+)?)(ll[duxi]|l[duxi]|h[dux]|[scduxXpiKU])/y;
  for (let i = 0; i < format.length;) {
    const ch = format[i]!;
    if (ch === '\\' && i + 1 < format.length) {
      const esc: Record<string, string> = { n: '\n', t: '\t', '"': '"', '\\': '\\' };
      lit += esc[format[i + 1]!] ?? format[i + 1];
      i += 2;
      continue;
    }
    if (ch !== '%') {
      lit += ch;
      i++;
      continue;
    }
    if (format[i + 1] === '%') {
      lit += '%';
      i += 2;
      continue;
    }
    re.lastIndex = i;
    const m = re.exec(format);
    if (!m) throw new FormatError(format.slice(i), `unknown conversion (trace's are %s %c %d %u %x %ld %lu %lx %lld %llu %llx %hd %hu %p %K %U)`);
    if (lit) out.push({ text: lit });
    lit = '';
    out.push({ conversion: m[2] as Conversion, flags: m[1] });
    i = re.lastIndex;
  }
  if (lit) out.push({ text: lit });
  return out;
}

/** The message for one event: values in conversion order (strings, numbers or bigints as decoded). */
export function formatMessage(pieces: FormatPiece[], values: unknown[], symbol: (conversion: 'K' | 'U', addr: bigint) => string): string {
  let out = '';
  let k = 0;
  for (const p of pieces) {
    if (p.text !== undefined) {
      out += p.text;
      continue;
    }
    const v = values[k++];
    let s: string;
    const big = typeof v === 'bigint' ? v : BigInt(typeof v === 'number' ? Math.trunc(v) : 0);
    switch (p.conversion!) {
      case 's': s = String(v ?? ''); break;
      case 'c': s = String.fromCharCode(Number(BigInt.asUintN(8, big))); break;
      case 'x': case 'lx': case 'llx': case 'hx': s = big.toString(16); break;
      case 'X': s = big.toString(16).toUpperCase(); break;
      case 'p': s = `0x${big.toString(16)}`; break;
      case 'K': case 'U': s = symbol(p.conversion as 'K' | 'U', big); break;
      default: s = big.toString();
    }
    out += pad(s, p.flags ?? '');
  }
  return out;
}

function pad(s: string, flags: string): string {
  const m = /^([-+ 0#]*)(\d*)/.exec(flags)!;
  const width = Number(m[2] || 0);
  if (s.length >= width) return s;
  if (m[1]!.includes('-')) return s.padEnd(width);
  return m[1]!.includes('0') && /^-?\d/.test(s) ? s.padStart(width, '0') : s.padStart(width);
}
