// A small printf with Python `%`-operator semantics, so tools can reproduce BCC's column formats
// byte for byte ("%-16s %-7d %6.2f", "%-10.10s", ...).
//
// Supported: conversions s d i u x X o f F e E g G c %, flags '-' '0' '+' ' ' '#', width and
// precision (digits or '*'), C length modifiers (h hh l ll L q j z t) accepted and ignored, as Python does.
// Floats round exactly (half-to-even on the binary value), matching Python and glibc.

type Spec =
  | { lit: string }
  | {
      lit?: undefined;
      minus: boolean;
      zero: boolean;
      plus: boolean;
      space: boolean;
      alt: boolean;
      width: number | '*' | null;
      prec: number | '*' | null;
      conv: string;
    };

const SPEC_RE = /%([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d*))?(?:hh|h|ll|l|L|q|j|z|t)?([diouxXeEfFgGcs%])/g;

const cache = new Map<string, Spec[]>();

function compile(fmt: string): Spec[] {
  const hit = cache.get(fmt);
  if (hit) return hit;
  const specs: Spec[] = [];
  let last = 0;
  SPEC_RE.lastIndex = 0;
  for (let m = SPEC_RE.exec(fmt); m; m = SPEC_RE.exec(fmt)) {
    if (m.index > last) specs.push({ lit: fmt.slice(last, m.index) });
    last = SPEC_RE.lastIndex;
    const flags = m[1] ?? '';
    const conv = m[4]!;
    if (conv === '%' && flags === '' && m[2] === undefined && m[3] === undefined) {
      specs.push({ lit: '%' });
      continue;
    }
    specs.push({
      minus: flags.includes('-'),
      zero: flags.includes('0'),
      plus: flags.includes('+'),
      space: flags.includes(' '),
      alt: flags.includes('#'),
      width: m[2] === undefined ? null : m[2] === '*' ? '*' : parseInt(m[2], 10),
      prec: m[3] === undefined ? null : m[3] === '*' ? '*' : m[3] === '' ? 0 : parseInt(m[3], 10),
      conv,
    });
  }
  if (last < fmt.length) {
    const rest = fmt.slice(last);
    if (rest.includes('%')) throw new SyntaxError(`sprintf: unsupported format near ${JSON.stringify(rest)}`);
    specs.push({ lit: rest });
  }
  if (cache.size > 512) cache.clear();
  cache.set(fmt, specs);
  return specs;
}

function toInteger(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new TypeError(`sprintf: %d format: a real number is required, not ${String(v)}`);
  return BigInt(Math.trunc(n));
}

function toFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number(v);
}

/** Exact value of a finite double as numerator / 2^shift (numerator >= 0). */
function exactParts(x: number): { num: bigint; shift: bigint } {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(x));
  const hi = dv.getUint32(0);
  const lo = dv.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = exp - 1075;
  }
  if (e >= 0) return { num: mant << BigInt(e), shift: 0n };
  return { num: mant, shift: BigInt(-e) };
}

/** round(num / den) with ties to even, all non-negative. */
function divRoundEven(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) return q + 1n;
  return q;
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Digits of |x| rounded to `prec` decimals, exact, half-to-even. */
function fixedDigits(ax: number, prec: number): string {
  // Fast path: toFixed is exact except that it breaks ties upward; a tie needs |x| = odd / 2^(prec+1).
  if (prec <= 100 && ax < 1e21) {
    const t = ax * 2 ** (prec + 1);
    if (!(Number.isInteger(t) && t % 2 === 1)) return ax.toFixed(prec);
  }
  const { num, shift } = exactParts(ax);
  const q = divRoundEven(num * pow10(prec), 1n << shift);
  if (prec === 0) return q.toString();
  const s = q.toString().padStart(prec + 1, '0');
  return s.slice(0, s.length - prec) + '.' + s.slice(s.length - prec);
}

/** |x| as `d.ddd` mantissa digits (prec after the point) and a decimal exponent; exact, half-to-even. */
function expDigits(ax: number, prec: number): { digits: string; exp: number } {
  if (ax === 0) return { digits: '0'.repeat(prec + 1), exp: 0 };
  const { num, shift } = exactParts(ax);
  const den0 = 1n << shift;
  let e = Math.floor(Math.log10(ax));
  for (;;) {
    const k = prec - e; // scale so that the integer part has prec+1 digits
    const n = k >= 0 ? num * pow10(k) : num;
    const d = k >= 0 ? den0 : den0 * pow10(-k);
    // Pick the exponent from the truncated quotient, then round (which may carry: 9.99 -> 10.0).
    const t = n / d;
    if (t >= pow10(prec + 1)) {
      e += 1;
      continue;
    }
    if (t < pow10(prec)) {
      e -= 1;
      continue;
    }
    const q = divRoundEven(n, d);
    if (q === pow10(prec + 1)) return { digits: '1' + '0'.repeat(prec), exp: e + 1 };
    const s = q.toString();
    return { digits: s, exp: e };
  }
}

function expString(ax: number, prec: number, alt: boolean, upper: boolean): string {
  const { digits, exp } = expDigits(ax, prec);
  let m = digits[0]!;
  if (prec > 0) m += '.' + digits.slice(1);
  else if (alt) m += '.';
  const es = (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
  return m + (upper ? 'E' : 'e') + es;
}

function generalString(ax: number, precIn: number | null, alt: boolean, upper: boolean): string {
  let p = precIn === null ? 6 : precIn;
  if (p === 0) p = 1;
  let exp = 0;
  if (ax !== 0) exp = expDigits(ax, p - 1).exp;
  let s: string;
  if (exp >= -4 && exp < p) {
    s = fixedDigits(ax, p - 1 - exp);
    if (!alt && s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    else if (alt && !s.includes('.')) s += '.';
  } else {
    s = expString(ax, p - 1, alt, upper);
    if (!alt) s = s.replace(/\.?0+(?=[eE])/, '');
  }
  return s;
}

/** Python/C `'%.<prec>f' % x` (exact rounding, half-to-even); 'inf'/'nan' for non-finite values. */
export function formatFixed(x: number, prec: number): string {
  if (Number.isNaN(x)) return 'nan';
  const neg = x < 0 || Object.is(x, -0);
  if (!Number.isFinite(x)) return neg ? '-inf' : 'inf';
  const s = fixedDigits(Math.abs(x), prec);
  return neg ? '-' + s : s;
}

function pad(body: string, sign: string, prefix: string, width: number, minus: boolean, zero: boolean): string {
  const len = sign.length + prefix.length + body.length;
  if (len >= width) return sign + prefix + body;
  if (minus) return sign + prefix + body + ' '.repeat(width - len);
  if (zero) return sign + prefix + '0'.repeat(width - len) + body;
  return ' '.repeat(width - len) + sign + prefix + body;
}

function formatOne(
  spec: Exclude<Spec, { lit: string }>,
  arg: unknown,
  width: number,
  prec: number | null,
  minus: boolean,
): string {
  const { conv, alt } = spec;
  switch (conv) {
    case 's': {
      let s = typeof arg === 'string' ? arg : String(arg);
      if (prec !== null && s.length > prec) s = s.slice(0, prec);
      if (s.length >= width) return s;
      return minus ? s + ' '.repeat(width - s.length) : ' '.repeat(width - s.length) + s;
    }
    case 'c': {
      let s: string;
      if (typeof arg === 'string') {
        if ([...arg].length !== 1) throw new TypeError('sprintf: %c requires int or char');
        s = arg;
      } else s = String.fromCodePoint(Number(toInteger(arg)));
      if (s.length >= width) return s;
      return minus ? s + ' '.repeat(width - s.length) : ' '.repeat(width - s.length) + s;
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
      const radix = conv === 'x' || conv === 'X' ? 16 : conv === 'o' ? 8 : 10;
      let neg: boolean;
      let body: string;
      if (typeof arg === 'number' && Number.isFinite(arg) && Math.abs(arg) <= Number.MAX_SAFE_INTEGER) {
        const t = Math.trunc(arg);
        neg = t < 0;
        body = (neg ? -t : t).toString(radix);
      } else {
        const v = toInteger(arg);
        neg = v < 0n;
        body = (neg ? -v : v).toString(radix);
      }
      if (conv === 'X') body = body.toUpperCase();
      if (prec !== null && body.length < prec) body = '0'.repeat(prec - body.length) + body;
      const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
      const prefix = alt ? (conv === 'x' ? '0x' : conv === 'X' ? '0X' : conv === 'o' ? '0o' : '') : '';
      return pad(body, sign, prefix, width, minus, spec.zero);
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      const x = toFloat(arg);
      const upper = conv === 'F' || conv === 'E' || conv === 'G';
      const neg = x < 0 || Object.is(x, -0);
      const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
      if (!Number.isFinite(x)) {
        let body = Number.isNaN(x) ? 'nan' : 'inf';
        if (upper) body = body.toUpperCase();
        return pad(body, Number.isNaN(x) ? (spec.plus ? '+' : spec.space ? ' ' : '') : sign, '', width, minus, spec.zero);
      }
      const ax = Math.abs(x);
      let body: string;
      if (conv === 'f' || conv === 'F') {
        body = fixedDigits(ax, prec === null ? 6 : prec);
        if (alt && !body.includes('.')) body += '.';
      } else if (conv === 'e' || conv === 'E') {
        body = expString(ax, prec === null ? 6 : prec, alt, upper);
      } else {
        body = generalString(ax, prec, alt, upper);
      }
      return pad(body, sign, '', width, minus, spec.zero);
    }
    default:
      // '%' with flags/width, e.g. "%5%": Python prints a padded '%'.
      return pad('%', '', '', width, minus, false);
  }
}

function notEnough(fmt: string): never {
  throw new TypeError(`sprintf: not enough arguments for format string ${JSON.stringify(fmt)}`);
}

/**
 * printf-style formatting with Python `%` semantics (BCC tools are Python):
 * `sprintf("%-16s %-7d %6.2f", comm, pid, ms)`. Strings are not truncated unless a precision is
 * given ("%-10.10s"). Throws if there are fewer arguments than conversions.
 */
export function sprintf(fmt: string, ...args: any[]): string {
  const specs = compile(fmt);
  let out = '';
  let ai = 0;
  for (const spec of specs) {
    if (spec.lit !== undefined) {
      out += spec.lit;
      continue;
    }
    let minus = spec.minus;
    let width = 0;
    if (spec.width === '*') {
      if (ai >= args.length) notEnough(fmt);
      const w = Number(toInteger(args[ai++]));
      if (w < 0) {
        minus = true;
        width = -w;
      } else width = w;
    } else if (spec.width !== null) width = spec.width;
    let prec: number | null = null;
    if (spec.prec === '*') {
      if (ai >= args.length) notEnough(fmt);
      const p = Number(toInteger(args[ai++]));
      prec = p < 0 ? 0 : p;
    } else prec = spec.prec;
    let arg: unknown;
    if (spec.conv !== '%') {
      if (ai >= args.length) notEnough(fmt);
      arg = args[ai++];
    }
    out += formatOne(spec, arg, width, prec, minus);
  }
  return out;
}
