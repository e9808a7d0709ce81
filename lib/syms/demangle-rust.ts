// Rust symbol demangling, printed as rustc's own demangler prints them in its default (alternate)
// form, the form of rustfilt, perf and `nm --demangle=rust`: no hash, no crate disambiguators.
//
// Legacy symbols ("_ZN" path "17h" 16 hex digits "E") are Itanium-shaped: the hash element is
// dropped, "$LT$"-style escapes and "$u7e$"-style code points decoded, ".." read as "::".
// v0 symbols ("_R" ...; RFC 2603) are a small grammar of paths, types, generic arguments and
// constants with backreferences; identifiers may be punycode. The printer below walks the grammar
// once and prints as it goes; a backreference re-reads the text at an earlier position.

/** A Rust symbol's demangled name, or undefined when `name` is not a Rust symbol this decodes. */
export function demangleRust(name: string): string | undefined {
  let s = name;
  // ThinLTO renames imported internal symbols "<name>.llvm.<hex>": that ending is not part of the name
  const llvm = s.indexOf('.llvm.');
  if (llvm >= 0 && /^[0-9A-F@]*$/.test(s.slice(llvm + 6))) s = s.slice(0, llvm);
  const r = isRustLegacy(s) ? legacy(s) : s.startsWith('_R') ? v0(s) : undefined;
  if (!r) return undefined;
  // what follows the symbol: kept when it reads like LLVM's ".cold"-style endings, else not Rust
  if (r.rest && !(r.rest.startsWith('.') && /^[\x21-\x7e]*$/.test(r.rest))) return undefined;
  return r.text + r.rest;
}

interface Demangled { text: string; rest: string }

// ------------------------------------------------------------------ legacy

/** Whether an Itanium-shaped name is Rust's: its last path element is rustc's "h" + 16 hex digits hash. */
export function isRustLegacy(name: string): boolean {
  if (!name.startsWith('_ZN') || !name.includes('17h')) return false;
  const p = legacyElements(name);
  return !!p && p.elements.length > 1 && /^h[0-9a-f]{16}$/.test(p.elements[p.elements.length - 1]);
}

/** The path elements of "_ZN" {len ident} "E", and where the symbol ends. */
function legacyElements(name: string): { elements: string[]; end: number } | undefined {
  if (!name.startsWith('_ZN')) return undefined;
  const elements: string[] = [];
  let p = 3;
  while (name[p] !== 'E') {
    let len = 0, digits = 0;
    while (p < name.length && name.charCodeAt(p) >= 48 && name.charCodeAt(p) <= 57) {
      len = len * 10 + name.charCodeAt(p++) - 48;
      if (++digits > 6) return undefined;
    }
    if (!digits || p + len > name.length) return undefined;
    elements.push(name.slice(p, p + len));
    p += len;
  }
  return elements.length ? { elements, end: p + 1 } : undefined;
}

const LEGACY_ESCAPES: Record<string, string> = { SP: '@', BP: '*', RF: '&', LT: '<', GT: '>', LP: '(', RP: ')', C: ',' };

function legacy(name: string): Demangled | undefined {
  const parsed = legacyElements(name);
  if (!parsed || /[^\x00-\x7f]/.test(name)) return undefined;
  const { elements } = parsed;
  const last = elements[elements.length - 1];
  if (elements.length > 1 && /^h[0-9a-f]*$/.test(last)) elements.pop(); // the hash, not printed
  return { text: elements.map(legacyElement).join('::'), rest: name.slice(parsed.end) };
}

/** One element: "_$" starts drop the "_", "$..$" escapes decoded, ".." is "::". */
function legacyElement(e: string): string {
  let rest = e.startsWith('_$') ? e.slice(1) : e;
  let out = '';
  while (rest) {
    if (rest.startsWith('..')) {
      out += '::';
      rest = rest.slice(2);
    } else if (rest[0] === '.') {
      out += '.';
      rest = rest.slice(1);
    } else if (rest[0] === '$') {
      const end = rest.indexOf('$', 1);
      if (end < 0) break;
      const esc = rest.slice(1, end);
      let c = LEGACY_ESCAPES[esc];
      if (c === undefined && /^u[0-9a-f]+$/.test(esc)) {
        const cp = parseInt(esc.slice(1), 16);
        if (cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) && !isControl(cp)) c = String.fromCodePoint(cp);
      }
      if (c === undefined) break; // unknown: printed as it is, from here on
      out += c;
      rest = rest.slice(end + 1);
    } else {
      const i = rest.search(/[$.]/);
      if (i < 0) break;
      out += rest.slice(0, i);
      rest = rest.slice(i);
    }
  }
  return out + rest;
}

function isControl(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

// ------------------------------------------------------------------ v0

class Invalid extends Error {}
function invalid(): never {
  throw new Invalid();
}

const BASIC_TYPES: Record<string, string> = {
  a: 'i8', b: 'bool', c: 'char', d: 'f64', e: 'str', f: 'f32', h: 'u8', i: 'isize', j: 'usize', l: 'i32', m: 'u32',
  n: 'i128', o: 'u128', p: '_', s: 'i16', t: 'u16', u: '()', v: '...', x: 'i64', y: 'u64', z: '!',
};
const MAX_DEPTH = 500;

function v0(name: string): Demangled | undefined {
  const inner = name.slice(2);
  if (!/^[A-Z]/.test(inner) || /[^\x00-\x7f]/.test(inner)) return undefined;
  try {
    const p = new V0Printer(inner);
    p.path(true);
    if (/^[A-Z]/.test(inner.slice(p.pos))) p.skipping(() => p.path(false)); // the instantiating crate: not printed
    return { text: p.out, rest: inner.slice(p.pos) };
  } catch (e) {
    if (e instanceof Invalid) return undefined;
    throw e;
  }
}

class V0Printer {
  pos = 0;
  out = '';
  private skip = 0;
  private depth = 0;
  /** Lifetimes bound by the enclosing for<...> binders (fn pointers, dyn traits). */
  private bound = 0;

  constructor(private readonly s: string) {}

  // ---------------------------------------------------------------- lexing

  private next(): string {
    if (this.pos >= this.s.length) invalid();
    return this.s[this.pos++];
  }

  private eat(c: string): boolean {
    if (this.s[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  private emit(t: string): void {
    if (!this.skip) this.out += t;
  }

  skipping(f: () => void): void {
    this.skip++;
    try {
      f();
    } finally {
      this.skip--;
    }
  }

  /** <base-62-number>: "_" is 0, "<digits>_" is their value + 1. */
  private base62(): number {
    if (this.eat('_')) return 0;
    let x = 0;
    for (;;) {
      const c = this.next();
      if (c === '_') break;
      const code = c.charCodeAt(0);
      const d = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 122 ? code - 87 : code >= 65 && code <= 90 ? code - 29 : invalid();
      x = x * 62 + d; // crate disambiguators are 64-bit hashes, inexact here: they are never printed
    }
    return x + 1;
  }

  /** A tag followed by a base-62 number, or nothing (0). */
  private optBase62(tag: string): number {
    return this.eat(tag) ? this.base62() + 1 : 0;
  }

  private decimal(): number {
    const c = this.next();
    if (c === '0') return 0;
    if (c < '1' || c > '9') invalid();
    let x = c.charCodeAt(0) - 48;
    while (this.pos < this.s.length && this.s[this.pos] >= '0' && this.s[this.pos] <= '9') {
      x = x * 10 + this.s.charCodeAt(this.pos++) - 48;
      if (x > this.s.length) invalid();
    }
    return x;
  }

  /** <undisambiguated-identifier>: ["u"] length ["_"] bytes; "u" marks punycode. */
  private ident(): string {
    const puny = this.eat('u');
    const len = this.decimal();
    this.eat('_');
    if (this.pos + len > this.s.length) invalid();
    const text = this.s.slice(this.pos, this.pos + len);
    this.pos += len;
    if (!puny) return text;
    const cut = text.lastIndexOf('_');
    return punycodeDecode(cut < 0 ? '' : text.slice(0, cut), text.slice(cut + 1));
  }

  private hexNibbles(): string {
    const start = this.pos;
    while (/[0-9a-f]/.test(this.s[this.pos] ?? '')) this.pos++;
    if (!this.eat('_')) invalid();
    return this.s.slice(start, this.pos - 1);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) invalid();
  }

  /** A backreference ("B" already read): the item at an earlier position, printed by `f`. */
  private backref(f: () => void): void {
    const at = this.pos - 1;
    const target = this.base62();
    if (target >= at) invalid();
    if (this.skip) return; // skipped text need not be followed
    const resume = this.pos;
    this.pos = target;
    try {
      f();
    } finally {
      this.pos = resume;
    }
  }

  /** Items until "E", separated by `sep`; how many. */
  private list(f: () => void, sep: string): number {
    let n = 0;
    while (!this.eat('E')) {
      if (n++) this.emit(sep);
      f();
    }
    return n;
  }

  // ---------------------------------------------------------------- grammar

  /** <path>; `inValue`: generic arguments written turbofish-style ("f::<T>"), as in expressions. */
  path(inValue: boolean): void {
    this.enter();
    const tag = this.next();
    switch (tag) {
      case 'C': { // crate root
        this.optBase62('s');
        this.emit(this.ident());
        break;
      }
      case 'N': { // nested: namespace, parent, identifier
        const ns = this.next();
        this.path(inValue);
        const dis = this.optBase62('s');
        const name = this.ident();
        if (ns >= 'A' && ns <= 'Z') {
          this.emit(`::{${ns === 'C' ? 'closure' : ns === 'S' ? 'shim' : ns}${name ? ':' + name : ''}#${dis}}`);
        } else if (ns >= 'a' && ns <= 'z') {
          if (name) this.emit('::' + name);
        } else {
          invalid();
        }
        break;
      }
      case 'M': case 'X': case 'Y': { // <T>, <T as Trait> (impl blocks, printed by what they implement)
        if (tag !== 'Y') {
          this.optBase62('s');
          this.skipping(() => this.path(false)); // the impl's own path: not printed
        }
        this.emit('<');
        this.type();
        if (tag !== 'M') {
          this.emit(' as ');
          this.path(false);
        }
        this.emit('>');
        break;
      }
      case 'I': { // generic arguments
        this.path(inValue);
        if (inValue) this.emit('::');
        this.emit('<');
        this.list(() => this.genericArg(), ', ');
        this.emit('>');
        break;
      }
      case 'B':
        this.backref(() => this.path(inValue));
        break;
      default:
        invalid();
    }
    this.depth--;
  }

  /** A path whose generic arguments stay open ("Trait<A" then "Item = T>"), for dyn trait bounds. */
  private pathOpenGenerics(): boolean {
    if (this.eat('B')) {
      let open = false;
      this.backref(() => (open = this.pathOpenGenerics()));
      return open;
    }
    if (this.eat('I')) {
      this.path(false);
      this.emit('<');
      this.list(() => this.genericArg(), ', ');
      return true;
    }
    this.path(false);
    return false;
  }

  private genericArg(): void {
    if (this.eat('L')) this.lifetime(this.base62());
    else if (this.eat('K')) this.constant(false);
    else this.type();
  }

  private lifetime(index: number): void {
    if (this.skip) return;
    this.emit("'");
    if (index === 0) return this.emit('_');
    const depth = this.bound - index;
    if (depth < 0) invalid();
    this.emit(depth < 26 ? String.fromCharCode(97 + depth) : `_${depth}`);
  }

  /** for<'a, ...> of fn pointers and dyn traits, around `f`. */
  private binder(f: () => void): void {
    const n = this.optBase62('G');
    if (this.skip) return f();
    if (n > 0) {
      this.emit('for<');
      for (let i = 0; i < n; i++) {
        if (i) this.emit(', ');
        this.bound++;
        this.lifetime(1);
      }
      this.emit('> ');
    }
    try {
      f();
    } finally {
      this.bound -= n;
    }
  }

  type(): void {
    const tag = this.next();
    const basic = BASIC_TYPES[tag];
    if (basic) return this.emit(basic);
    this.enter();
    switch (tag) {
      case 'R': case 'Q':
        this.emit('&');
        if (this.eat('L')) {
          const lt = this.base62();
          if (lt) {
            this.lifetime(lt);
            this.emit(' ');
          }
        }
        if (tag === 'Q') this.emit('mut ');
        this.type();
        break;
      case 'P': case 'O':
        this.emit(tag === 'P' ? '*const ' : '*mut ');
        this.type();
        break;
      case 'A': case 'S':
        this.emit('[');
        this.type();
        if (tag === 'A') {
          this.emit('; ');
          this.constant(true);
        }
        this.emit(']');
        break;
      case 'T': {
        this.emit('(');
        if (this.list(() => this.type(), ', ') === 1) this.emit(',');
        this.emit(')');
        break;
      }
      case 'F':
        this.binder(() => {
          const unsafe = this.eat('U');
          let abi: string | undefined;
          if (this.eat('K')) {
            if (this.eat('C')) abi = 'C';
            else {
              const puny = this.s[this.pos] === 'u';
              abi = this.ident();
              if (!abi || puny) invalid();
            }
          }
          if (unsafe) this.emit('unsafe ');
          if (abi) this.emit(`extern "${abi.replace(/_/g, '-')}" `); // "-" is mangled as "_"
          this.emit('fn(');
          this.list(() => this.type(), ', ');
          this.emit(')');
          if (!this.eat('u')) {
            this.emit(' -> ');
            this.type();
          }
        });
        break;
      case 'D': {
        this.emit('dyn ');
        this.binder(() => this.list(() => this.dynTrait(), ' + '));
        if (!this.eat('L')) invalid();
        const lt = this.base62();
        if (lt) {
          this.emit(' + ');
          this.lifetime(lt);
        }
        break;
      }
      case 'B':
        this.backref(() => this.type());
        break;
      default:
        this.pos--; // a path names the type
        this.path(false);
    }
    this.depth--;
  }

  private dynTrait(): void {
    let open = this.pathOpenGenerics();
    while (this.eat('p')) {
      this.emit(open ? ', ' : '<');
      open = true;
      this.emit(this.ident() + ' = ');
      this.type();
    }
    if (open) this.emit('>');
  }

  /** A const generic argument or array length; `inValue`: inside another value (no braces needed). */
  private constant(inValue: boolean): void {
    const tag = this.next();
    this.enter();
    let braced = false;
    const brace = () => {
      if (inValue) return;
      braced = true;
      this.emit('{');
    };
    switch (tag) {
      case 'p': this.emit('_'); break;
      case 'h': case 't': case 'm': case 'y': case 'o': case 'j': this.emit(uintText(this.hexNibbles())); break;
      case 'a': case 's': case 'l': case 'x': case 'n': case 'i':
        if (this.eat('n')) this.emit('-');
        this.emit(uintText(this.hexNibbles()));
        break;
      case 'b': {
        const v = uintValue(this.hexNibbles());
        if (v !== 0n && v !== 1n) invalid();
        this.emit(v ? 'true' : 'false');
        break;
      }
      case 'c': {
        const v = uintValue(this.hexNibbles());
        if (v === undefined || v > 0x10ffffn || (v >= 0xd800n && v <= 0xdfffn)) invalid();
        this.emit(quoted(String.fromCodePoint(Number(v)), "'"));
        break;
      }
      case 'e':
        brace();
        this.emit('*' + this.strLiteral());
        break;
      case 'R': case 'Q':
        if (tag === 'R' && this.eat('e')) {
          this.emit(this.strLiteral());
        } else {
          brace();
          this.emit(tag === 'R' ? '&' : '&mut ');
          this.constant(true);
        }
        break;
      case 'A':
        brace();
        this.emit('[');
        this.list(() => this.constant(true), ', ');
        this.emit(']');
        break;
      case 'T':
        brace();
        this.emit('(');
        if (this.list(() => this.constant(true), ', ') === 1) this.emit(',');
        this.emit(')');
        break;
      case 'V': {
        brace();
        this.path(true);
        const shape = this.next();
        if (shape === 'T') {
          this.emit('(');
          this.list(() => this.constant(true), ', ');
          this.emit(')');
        } else if (shape === 'S') {
          this.emit(' { ');
          this.list(() => {
            this.optBase62('s');
            this.emit(this.ident() + ': ');
            this.constant(true);
          }, ', ');
          this.emit(' }');
        } else if (shape !== 'U') {
          invalid();
        }
        break;
      }
      case 'B':
        this.backref(() => this.constant(inValue));
        break;
      default:
        invalid();
    }
    if (braced) this.emit('}');
    this.depth--;
  }

  /** A str constant: its UTF-8 bytes in hex, printed as a quoted literal. */
  private strLiteral(): string {
    const hex = this.hexNibbles();
    if (hex.length % 2) invalid();
    const bytes = Buffer.from(hex, 'hex');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      invalid();
    }
    return quoted(text, '"');
  }
}

function uintValue(hex: string): bigint | undefined {
  const digits = hex.replace(/^0+/, '');
  if (digits.length > 16) return undefined;
  return digits ? BigInt('0x' + digits) : 0n;
}

/** An integer constant: decimal when it fits 64 bits, else its hex digits. */
function uintText(hex: string): string {
  const v = uintValue(hex);
  return v === undefined ? `0x${hex}` : v.toString();
}

/** A char or str literal as Rust's Debug prints it: quotes, backslash escapes, \u{..} for controls. */
function quoted(text: string, quote: string): string {
  let out = quote;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\0') out += '\\0';
    else if (isControl(cp)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return out + quote;
}

/**
 * RFC 3492 punycode as v0 writes it: the ASCII part, then (after the last "_", "-" in RFC 3492)
 * the deltas that insert the other code points.
 */
export function punycodeDecode(ascii: string, encoded: string): string {
  if (!encoded) invalid();
  const out = [...ascii];
  const base = 36, tMin = 1, tMax = 26, skew = 38;
  let damp = 700, bias = 72, i = 0, n = 0x80, p = 0;
  for (;;) {
    let delta = 0, w = 1;
    for (let k = base; ; k += base) {
      const t = Math.min(Math.max(k - bias, tMin), tMax);
      const c = encoded.charCodeAt(p++);
      const d = c >= 97 && c <= 122 ? c - 97 : c >= 48 && c <= 57 ? c - 22 : invalid();
      delta += d * w;
      if (delta > 0x10ffff * (out.length + 1)) invalid();
      if (d < t) break;
      w *= base - t;
    }
    const len = out.length + 1;
    i += delta;
    n += Math.floor(i / len);
    i %= len;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) invalid();
    out.splice(i, 0, String.fromCodePoint(n));
    i++;
    if (p >= encoded.length) return out.join('');
    delta = Math.floor(delta / damp);
    damp = 2;
    delta += Math.floor(delta / len);
    let k = 0;
    while (delta > ((base - tMin) * tMax) / 2) {
      delta = Math.floor(delta / (base - tMin));
      k += base;
    }
    bias = k + Math.floor(((base - tMin + 1) * delta) / (delta + skew));
  }
}
