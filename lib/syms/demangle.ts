// Itanium C++ ABI demangling (the scheme of g++ and clang on Linux), written for symbol output:
// nested and template names, substitutions, template parameters, constructors/destructors,
// operators, cv/ref-qualified member functions, function/array/member pointers, local names,
// lambdas and unnamed types, ABI tags, literals, special names (vtable, typeinfo, thunks, guard
// variables) and clone suffixes. Output follows GNU c++filt ("std::vector<int, std::allocator<int> >",
// "char const*"). Anything outside that (expressions in template arguments, decltype, vector types)
// returns the input unchanged. Rust symbols (legacy "_ZN...17h<hash>E" and v0 "_R...") go to
// demangle-rust.ts from the same entry point.

import { demangleRust, isRustLegacy } from './demangle-rust.js';

export interface DemangleOptions {
  /** Print parameter types and qualifiers as c++filt does (default: just the qualified name). */
  params?: boolean;
}

class Unsupported extends Error {}
function fail(): never {
  throw new Unsupported();
}

// ------------------------------------------------------------------ output tree

class Out {
  s = '';
  /** While a pack expansion prints one element per round: which element, and how many a pack had. */
  packIndex?: number;
  packMax = -1;
  /** Template arguments of the functions being printed, innermost last. */
  tstack: Node[][] = [];
  fakeLast?: string;
  add(t: string): void {
    if (t) this.fakeLast = undefined;
    this.s += t;
  }
  last(): string {
    return this.fakeLast ?? this.s[this.s.length - 1] ?? '';
  }
}

abstract class Node {
  abstract printLeft(o: Out): void;
  printRight(_o: Out): void { /* nothing on the right */ }
  /** Whether the declarator syntax needs parentheses (pointer to function or array). */
  hasFunction(o: Out): boolean { return this.resolve(o) !== this && this.resolve(o).hasFunction(o); }
  hasArray(o: Out): boolean { return this.resolve(o) !== this && this.resolve(o).hasArray(o); }
  hasRight(o: Out): boolean { return this.resolve(o) !== this && this.resolve(o).hasRight(o); }
  print(o: Out): void {
    this.printLeft(o);
    this.printRight(o);
  }
  text(): string {
    const o = new Out();
    this.print(o);
    return o.s;
  }
  /** The unqualified base name, for constructor and destructor names. */
  baseName(): string { return this.text(); }
  /** The node this one stands for while printing (template parameters, pack elements). */
  resolve(_o: Out): Node { return this; }
}

class Name extends Node {
  constructor(readonly s: string, readonly base?: string) { super(); }
  printLeft(o: Out): void { o.add(this.s); }
  override baseName(): string { return this.base ?? this.s; }
}

class Nested extends Node {
  constructor(readonly prefix: Node, readonly name: Node) { super(); }
  printLeft(o: Out): void {
    this.prefix.print(o);
    o.add('::');
    this.name.print(o);
  }
  override baseName(): string { return this.name.baseName(); }
}

class TemplateArgs extends Node {
  constructor(readonly args: Node[]) { super(); }
  private params?: Node[];
  /** The arguments as template parameter values (a J...E pack becomes an expandable pack). */
  asParams(): Node[] {
    return (this.params ??= this.args.map(a => (a instanceof ArgPack ? new ParamPack(a.items) : a)));
  }
  printLeft(o: Out): void {
    o.add('<');
    printList(o, this.args);
    if (o.last() === '>') o.add(' ');
    o.add('>');
  }
}

class WithTemplateArgs extends Node {
  constructor(readonly name: Node, readonly args: TemplateArgs) { super(); }
  printLeft(o: Out): void {
    this.name.print(o);
    if (o.last() === '<') o.add(' '); // operator< <int>
    this.args.print(o);
  }
  override baseName(): string { return this.name.baseName(); }
}

/** J ... E in a template argument list: always printed whole. */
class ArgPack extends Node {
  constructor(readonly items: Node[]) { super(); }
  printLeft(o: Out): void { printList(o, this.items); }
}

/** A template parameter that is a pack: inside a pack expansion, one element per round. */
class ParamPack extends Node {
  constructor(readonly items: Node[]) { super(); }
  private current(o: Out): Node | undefined {
    if (o.packIndex === undefined) return undefined;
    o.packMax = Math.max(o.packMax, this.items.length);
    return this.items[o.packIndex];
  }
  printLeft(o: Out): void {
    if (o.packIndex === undefined) printList(o, this.items);
    else this.current(o)?.printLeft(o);
  }
  override printRight(o: Out): void {
    if (o.packIndex !== undefined) this.current(o)?.printRight(o);
  }
  override resolve(o: Out): Node {
    const c = this.current(o);
    return c ? c.resolve(o) : this;
  }
}

/** Dp <type>: the type printed once per element of the pack it mentions, comma separated. */
class PackExpansion extends Node {
  constructor(readonly inner: Node) { super(); }
  printLeft(o: Out): void {
    const saved = { i: o.packIndex, m: o.packMax };
    // a dry run finds the pack's size
    const probe = new Out();
    probe.packIndex = 0;
    this.inner.print(probe);
    const n = probe.packMax;
    if (n < 0) {
      this.inner.print(o);
    } else {
      for (let i = 0; i < n; i++) {
        if (i) o.add(', ');
        o.packIndex = i;
        this.inner.print(o);
      }
    }
    o.packIndex = saved.i;
    o.packMax = saved.m;
  }
}

function printList(o: Out, items: Node[]): void {
  let first = true;
  for (const it of items) {
    const before = o.s.length;
    if (!first) o.add(', ');
    const mark = o.s.length;
    it.print(o);
    if (o.s.length === mark) {
      // An empty pack printed nothing: drop its separator. (c++filt still counts the dropped
      // ", " as the last character, so a following '>' gets no space: "Foo<Bar<int>>".)
      if (!first) {
        o.s = o.s.slice(0, before);
        o.fakeLast = ' ';
      }
      continue;
    }
    first = false;
  }
}

class Builtin extends Node {
  constructor(readonly s: string) { super(); }
  printLeft(o: Out): void { o.add(this.s); }
}

class Qualified extends Node {
  constructor(readonly inner: Node, readonly quals: string) { super(); }
  /** Qualifiers not already on a substituted template parameter ("T const" with T = "X const"). */
  private extra(o: Out): string {
    const r = this.inner.resolve(o);
    if (!(r instanceof Qualified)) return this.quals;
    return this.quals.split(' ').filter(q => q && !r.quals.split(' ').includes(q)).map(q => ' ' + q).join('');
  }
  printLeft(o: Out): void {
    this.inner.printLeft(o);
    if (!(this.inner.resolve(o) instanceof FunctionType)) o.add(this.extra(o));
  }
  override printRight(o: Out): void {
    this.inner.printRight(o);
    if (this.inner.resolve(o) instanceof FunctionType) o.add(this.quals);
  }
  override hasFunction(o: Out): boolean { return this.inner.hasFunction(o); }
  override hasArray(o: Out): boolean { return this.inner.hasArray(o); }
  override hasRight(o: Out): boolean { return this.inner.hasRight(o); }
}

class PointerLike extends Node {
  constructor(readonly inner: Node, readonly op: string) { super(); }
  /** Reference collapsing (T& & -> T&, T&& & -> T&, T&& && -> T&&) once parameters are known. */
  private collapsed(o: Out): [Node, string] {
    let inner = this.inner.resolve(o), op = this.op;
    if (op === '*') return [inner, op];
    while (inner instanceof PointerLike && inner.op !== '*') {
      if (inner.op === '&') op = '&';
      inner = inner.inner.resolve(o);
    }
    return [inner, op];
  }
  printLeft(o: Out): void {
    const [inner, op] = this.collapsed(o);
    inner.printLeft(o);
    if (inner.hasArray(o)) o.add(' ');
    if (inner.hasFunction(o) || inner.hasArray(o)) o.add('(');
    o.add(op);
  }
  override printRight(o: Out): void {
    const [inner] = this.collapsed(o);
    if (inner.hasFunction(o) || inner.hasArray(o)) o.add(')');
    inner.printRight(o);
  }
  override hasRight(o: Out): boolean { return this.inner.hasRight(o); }
}

class MemberPointer extends Node {
  constructor(readonly cls: Node, readonly inner: Node) { super(); }
  private paren(o: Out): boolean { return this.inner.hasFunction(o) || this.inner.hasArray(o); }
  printLeft(o: Out): void {
    this.inner.printLeft(o);
    o.add(this.paren(o) ? '(' : ' ');
    this.cls.print(o);
    o.add('::*');
  }
  override printRight(o: Out): void {
    if (this.paren(o)) o.add(')');
    this.inner.printRight(o);
  }
  override hasRight(o: Out): boolean { return this.inner.hasRight(o); }
}

class FunctionType extends Node {
  constructor(readonly ret: Node, readonly params: Node[], readonly ref: string) { super(); }
  printLeft(o: Out): void {
    this.ret.printLeft(o);
    o.add(' ');
  }
  override printRight(o: Out): void {
    o.add('(');
    printList(o, this.params);
    o.add(')');
    this.ret.printRight(o);
    o.add(this.ref);
  }
  override hasFunction(_o: Out): boolean { return true; }
  override hasRight(_o: Out): boolean { return true; }
}

class ArrayType extends Node {
  constructor(readonly inner: Node, readonly dim: string) { super(); }
  printLeft(o: Out): void { this.inner.printLeft(o); }
  override printRight(o: Out): void {
    if (o.last() !== ']') o.add(' ');
    o.add(`[${this.dim}]`);
    this.inner.printRight(o);
  }
  override hasArray(_o: Out): boolean { return true; }
  override hasRight(_o: Out): boolean { return true; }
}

/** A function: [return type] name(params) [cv] [ref]. */
/** The template arguments of a function's own name (what T_ in its signature refers to). */
function ownTemplateArgs(n: Node): TemplateArgs | undefined {
  if (n instanceof WithTemplateArgs) return n.args;
  if (n instanceof Nested) return ownTemplateArgs(n.name);
  if (n instanceof LocalName) return ownTemplateArgs(n.entity);
  if (n instanceof AbiTagged) return ownTemplateArgs(n.inner);
  return undefined;
}

/** A function: [return type] name(params) [cv] [ref]. */
class Encoding extends Node {
  constructor(readonly name: Node, readonly ret: Node | undefined, readonly params: Node[], readonly cv: string, readonly ref: string) { super(); }
  private scoped(o: Out, f: () => void): void {
    const args = ownTemplateArgs(this.name);
    if (args) o.tstack.push(args.asParams());
    try {
      f();
    } finally {
      if (args) o.tstack.pop();
    }
  }
  printLeft(o: Out): void {
    this.scoped(o, () => {
      if (this.ret) {
        this.ret.printLeft(o);
        if (!this.ret.hasRight(o)) o.add(' ');
      }
      this.name.print(o);
    });
  }
  override printRight(o: Out): void {
    this.scoped(o, () => {
      o.add('(');
      printList(o, this.params);
      o.add(')');
      if (this.ret) this.ret.printRight(o);
      o.add(this.cv);
      o.add(this.ref);
    });
  }
  override baseName(): string { return this.name.baseName(); }
}

class Special extends Node {
  constructor(readonly prefix: string, readonly inner: Node) { super(); }
  printLeft(o: Out): void {
    o.add(this.prefix);
    this.inner.print(o);
  }
}

class CtorVtable extends Node {
  constructor(readonly a: Node, readonly b: Node) { super(); }
  printLeft(o: Out): void {
    o.add('construction vtable for ');
    this.b.print(o);
    o.add('-in-');
    this.a.print(o);
  }
}

class LocalName extends Node {
  constructor(readonly fn: Node, readonly entity: Node) { super(); }
  printLeft(o: Out): void {
    // the enclosing function is printed without its return type
    if (this.fn instanceof Encoding && this.fn.ret) new Encoding(this.fn.name, undefined, this.fn.params, this.fn.cv, this.fn.ref).print(o);
    else this.fn.print(o);
    o.add('::');
    this.entity.print(o);
  }
  override baseName(): string { return this.entity.baseName(); }
}

class Conversion extends Node {
  constructor(readonly type: Node) { super(); }
  printLeft(o: Out): void {
    o.add('operator ');
    this.type.print(o);
  }
}

class AbiTagged extends Node {
  constructor(readonly inner: Node, readonly tag: string) { super(); }
  printLeft(o: Out): void {
    this.inner.print(o);
    o.add(`[abi:${this.tag}]`);
  }
  override baseName(): string { return this.inner.baseName(); }
}

/**
 * T_, T0_, ...: resolved when printed against the template whose signature is being printed (as
 * c++filt does: a substitution of "T_" used in another function means that function's T_), else
 * against what it meant where it was parsed.
 */
class TemplateParam extends Node {
  constructor(readonly idx: number, readonly fallback: () => Node | undefined) { super(); }
  private target(o: Out): [Node, Node[] | undefined] {
    const top = o.tstack.length ? o.tstack[o.tstack.length - 1] : undefined;
    const n = top ? top[this.idx] : this.fallback();
    if (!n) fail();
    return [n, top];
  }
  /** Runs f on the parameter's value with that template popped (its value may mention outer parameters). */
  private within<T>(o: Out, f: (n: Node) => T): T {
    const [n, top] = this.target(o);
    if (top) o.tstack.pop();
    try {
      return f(n);
    } finally {
      if (top) o.tstack.push(top);
    }
  }
  printLeft(o: Out): void { this.within(o, n => n.printLeft(o)); }
  override printRight(o: Out): void { this.within(o, n => n.printRight(o)); }
  override resolve(o: Out): Node { return this.within(o, n => n.resolve(o)); }
  override hasFunction(o: Out): boolean { return this.within(o, n => n.hasFunction(o)); }
  override hasArray(o: Out): boolean { return this.within(o, n => n.hasArray(o)); }
  override hasRight(o: Out): boolean { return this.within(o, n => n.hasRight(o)); }
}

// ------------------------------------------------------------------ parser

const BUILTINS: Record<string, string> = {
  v: 'void', w: 'wchar_t', b: 'bool', c: 'char', a: 'signed char', h: 'unsigned char', s: 'short', t: 'unsigned short',
  i: 'int', j: 'unsigned int', l: 'long', m: 'unsigned long', x: 'long long', y: 'unsigned long long', n: '__int128',
  o: 'unsigned __int128', f: 'float', d: 'double', e: 'long double', g: '__float128', z: '...',
};
const D_BUILTINS: Record<string, string> = {
  d: 'decimal64', e: 'decimal128', f: 'decimal32', h: 'half', i: 'char32_t', s: 'char16_t', u: 'char8_t', a: 'auto',
  c: 'decltype(auto)', n: 'decltype(nullptr)',
};
const OPERATORS: Record<string, string> = {
  nw: 'new', na: 'new[]', dl: 'delete', da: 'delete[]', ps: '+', ng: '-', ad: '&', de: '*', co: '~', pl: '+', mi: '-',
  ml: '*', dv: '/', rm: '%', an: '&', or: '|', eo: '^', aS: '=', pL: '+=', mI: '-=', mL: '*=', dV: '/=', rM: '%=',
  aN: '&=', oR: '|=', eO: '^=', ls: '<<', rs: '>>', lS: '<<=', rS: '>>=', eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=',
  ge: '>=', ss: '<=>', nt: '!', aa: '&&', oo: '||', pp: '++', mm: '--', cm: ',', pm: '->*', pt: '->', cl: '()', ix: '[]',
  qu: '?', aw: 'co_await',
};
const STD_SUBS: Record<string, { simple: string; full: string; last: string }> = {
  a: { simple: 'std::allocator', full: 'std::allocator', last: 'allocator' },
  b: { simple: 'std::basic_string', full: 'std::basic_string', last: 'basic_string' },
  s: { simple: 'std::string', full: 'std::basic_string<char, std::char_traits<char>, std::allocator<char> >', last: 'basic_string' },
  i: { simple: 'std::istream', full: 'std::basic_istream<char, std::char_traits<char> >', last: 'basic_istream' },
  o: { simple: 'std::ostream', full: 'std::basic_ostream<char, std::char_traits<char> >', last: 'basic_ostream' },
  d: { simple: 'std::iostream', full: 'std::basic_iostream<char, std::char_traits<char> >', last: 'basic_iostream' },
};
const LITERAL_SUFFIX: Record<string, string> = { i: '', j: 'u', l: 'l', m: 'ul', x: 'll', y: 'ull' };

interface NameState { endsWithTemplateArgs: boolean; ctorDtorConversion: boolean; cv: string; ref: string }

class Parser {
  private p = 0;
  private subs: Node[] = [];
  private templateParams: Node[] = [];
  private depth = 0;
  private inLambda = false;

  constructor(private readonly s: string) {}

  private look(k = 0): string { return this.s[this.p + k] ?? ''; }
  private eat(t: string): boolean {
    if (this.s.startsWith(t, this.p)) {
      this.p += t.length;
      return true;
    }
    return false;
  }
  private expect(t: string): void {
    if (!this.eat(t)) fail();
  }
  atEnd(): boolean { return this.p >= this.s.length; }
  rest(): string { return this.s.slice(this.p); }

  private number(): number {
    const neg = this.eat('n');
    const m = /^\d+/.exec(this.s.slice(this.p, this.p + 12));
    if (!m) fail();
    this.p += m[0].length;
    return neg ? -Number(m[0]) : Number(m[0]);
  }

  /** <seq-id> _ : base 36, digits and upper case; "_" alone is 0, "<id>_" is id+1. */
  private seqId(): number {
    if (this.eat('_')) return 0;
    let v = 0, any = false;
    while (/[0-9A-Z]/.test(this.look())) {
      v = v * 36 + parseInt(this.look(), 36);
      this.p++;
      any = true;
    }
    if (!any) fail();
    this.expect('_');
    return v + 1;
  }

  // <encoding> ::= <name> <bare-function-type> | <name> | <special-name>
  encoding(): Node {
    if (++this.depth > 256) fail();
    try {
      if (this.look() === 'T' || (this.look() === 'G' && /[VRTA]/.test(this.look(1)))) return this.specialName();
      const st: NameState = { endsWithTemplateArgs: false, ctorDtorConversion: false, cv: '', ref: '' };
      const name = this.name(st);
      const end = this.atEnd() || this.look() === 'E' || this.look() === '.';
      if (end) return name;
      let ret: Node | undefined;
      if (st.endsWithTemplateArgs && !st.ctorDtorConversion) ret = this.type();
      const params = this.bareParams();
      return new Encoding(name, ret, params, st.cv, st.ref);
    } finally {
      this.depth--;
    }
  }

  private bareParams(): Node[] {
    const endAt = (k: number) => { const c = this.look(k); return c === '' || c === 'E' || c === '.'; };
    if (this.look() === 'v' && endAt(1)) { // (void): no parameters
      this.p++;
      return [];
    }
    const params: Node[] = [];
    while (!endAt(0)) params.push(this.type());
    if (!params.length) fail();
    return params;
  }

  private specialName(): Node {
    if (this.eat('TV')) return new Special('vtable for ', this.type());
    if (this.eat('TT')) return new Special('VTT for ', this.type());
    if (this.eat('TI')) return new Special('typeinfo for ', this.type());
    if (this.eat('TS')) return new Special('typeinfo name for ', this.type());
    if (this.eat('Th')) {
      this.number();
      this.expect('_');
      return new Special('non-virtual thunk to ', this.encoding());
    }
    if (this.eat('Tv')) {
      this.number();
      this.expect('_');
      this.number();
      this.expect('_');
      return new Special('virtual thunk to ', this.encoding());
    }
    if (this.eat('Tc')) {
      this.callOffset();
      this.callOffset();
      return new Special('covariant return thunk to ', this.encoding());
    }
    if (this.eat('TC')) {
      const a = this.type();
      this.number();
      this.expect('_');
      const b = this.type();
      return new CtorVtable(a, b);
    }
    if (this.eat('TW')) return new Special('TLS wrapper function for ', this.name());
    if (this.eat('TH')) return new Special('TLS init function for ', this.name());
    if (this.eat('GV')) return new Special('guard variable for ', this.name());
    if (this.eat('GR')) {
      const n = this.name();
      let idx = 0;
      if (!this.eat('_')) idx = this.seqId();
      return new Special(`reference temporary #${idx} for `, n);
    }
    if (this.eat('GA')) return new Special('hidden alias for ', this.encoding());
    if (this.eat('GTt')) return new Special('transaction clone for ', this.encoding());
    if (this.eat('GTn')) return new Special('non-transaction clone for ', this.encoding());
    fail();
  }

  private callOffset(): void {
    if (this.eat('h')) {
      this.number();
      this.expect('_');
    } else if (this.eat('v')) {
      this.number();
      this.expect('_');
      this.number();
      this.expect('_');
    } else {
      fail();
    }
  }

  // <name> ::= <nested-name> | <local-name> | <unscoped-template-name> <template-args> | <unscoped-name>
  private name(st?: NameState): Node {
    const c = this.look();
    if (c === 'N') return this.nestedName(st);
    if (c === 'Z') return this.localName(st);
    let isSubst = false;
    let n: Node;
    if (c === 'S' && this.look(1) !== 't') {
      n = this.substitution(false);
      isSubst = true;
    } else {
      const std = this.eat('St');
      this.eat('L');
      n = this.unqualifiedName(st);
      if (std) n = new Nested(new Name('std'), n);
    }
    if (this.look() === 'I') {
      if (!isSubst) this.subs.push(n);
      const args = this.templateArgs(!!st);
      if (st) st.endsWithTemplateArgs = true;
      n = new WithTemplateArgs(n, args);
    } else if (isSubst) {
      fail();
    }
    return n;
  }

  // N [<CV-qualifiers>] [<ref-qualifier>] <prefix> <unqualified-name> E
  private nestedName(st?: NameState): Node {
    this.expect('N');
    let cv = '';
    while (/[rVK]/.test(this.look())) {
      const q = this.look();
      this.p++;
      cv = (q === 'K' ? ' const' : q === 'V' ? ' volatile' : ' restrict') + cv;
    }
    let ref = '';
    if (this.eat('R')) ref = ' &';
    else if (this.eat('O')) ref = ' &&';
    if (st) {
      st.cv = cv;
      st.ref = ref;
    }
    let soFar: Node | undefined;
    while (!this.eat('E')) {
      if (this.atEnd()) fail();
      this.eat('L');
      if (st) st.endsWithTemplateArgs = false;
      const c = this.look();
      if (c === 'T') {
        if (soFar) fail();
        soFar = this.templateParam();
      } else if (c === 'I') {
        if (!soFar || soFar instanceof WithTemplateArgs) fail();
        const args = this.templateArgs(!!st);
        if (st) st.endsWithTemplateArgs = true;
        soFar = new WithTemplateArgs(soFar, args);
      } else if (c === 'D' && (this.look(1) === 't' || this.look(1) === 'T')) {
        fail(); // decltype
      } else if (c === 'S') {
        if (this.look(1) === 't') {
          this.p += 2;
          if (soFar) fail();
          soFar = new Name('std');
          continue; // "std" is not a substitution candidate
        }
        if (soFar) fail();
        soFar = this.substitution(true);
        continue;
      } else {
        if (st) st.ctorDtorConversion = false;
        const u = this.unqualifiedName(st, soFar);
        soFar = soFar ? new Nested(soFar, u) : u;
      }
      this.subs.push(soFar);
      this.eat('M'); // <data-member-prefix>
    }
    if (!soFar) fail();
    this.subs.pop();
    return soFar;
  }

  // Z <function encoding> E <entity name> [<discriminator>] | Z <encoding> E s [<discriminator>]
  private localName(st?: NameState): Node {
    this.expect('Z');
    const saved = this.templateParams;
    const fn = this.encoding();
    if (!st) this.templateParams = saved; // a local name inside a type or argument
    this.expect('E');
    if (this.eat('s')) {
      this.discriminator();
      return new LocalName(fn, new Name('string literal'));
    }
    if (this.eat('d')) { // default argument scope
      if (this.look() !== '_') this.number();
      this.expect('_');
      return new LocalName(fn, this.name(st));
    }
    const entity = this.name(st);
    this.discriminator();
    return new LocalName(fn, entity);
  }

  private discriminator(): void {
    if (this.look() !== '_') return;
    if (this.look(1) === '_') {
      this.p += 2;
      this.number();
      this.expect('_');
    } else if (/\d/.test(this.look(1))) {
      this.p += 2;
    }
  }

  private unqualifiedName(st?: NameState, scope?: Node): Node {
    const c = this.look();
    let n: Node;
    if (/\d/.test(c)) {
      n = this.sourceName();
    } else if (c === 'C' || (c === 'D' && /[0-5]/.test(this.look(1)))) {
      // constructor / destructor: the name of the class it belongs to
      if (!scope) fail();
      const dtor = c === 'D';
      this.p++;
      this.eat('I'); // inheriting constructor CI1/CI2
      if (!/[0-5]/.test(this.look())) fail();
      this.p++;
      if (c === 'C' && this.s[this.p - 2] === 'I') this.type(); // CI<n> <base class type>
      if (st) st.ctorDtorConversion = true;
      n = new Name((dtor ? '~' : '') + scope.baseName());
    } else if (c === 'U') {
      n = this.unnamedType();
    } else if (c === 'D' && this.look(1) === 'C') {
      this.p += 2;
      const names: string[] = [];
      while (!this.eat('E')) names.push(this.sourceName().s);
      n = new Name(`[${names.join(', ')}]`);
    } else if (/[a-z]/.test(c)) {
      n = this.operatorName(st);
    } else {
      fail();
    }
    while (this.look() === 'B') {
      this.p++;
      n = new AbiTagged(n, this.sourceName().s);
    }
    return n;
  }

  private sourceName(): Name {
    const m = /^\d+/.exec(this.s.slice(this.p, this.p + 10));
    if (!m) fail();
    const len = Number(m[0]);
    this.p += m[0].length;
    if (len <= 0 || this.p + len > this.s.length) fail();
    const id = this.s.slice(this.p, this.p + len);
    this.p += len;
    if (/^_GLOBAL_[._$]N/.test(id)) return new Name('(anonymous namespace)');
    return new Name(id);
  }

  private unnamedType(): Node {
    if (this.eat('Ut')) {
      const n = this.look() === '_' ? 1 : this.number() + 2;
      this.expect('_');
      return new Name(`{unnamed type#${n}}`);
    }
    if (this.eat('Ul')) {
      const params: Node[] = [];
      const saved = this.inLambda;
      this.inLambda = true; // T_ in a generic lambda's signature is its own "auto" parameter
      try {
        if (!this.eat('vE')) {
          while (!this.eat('E')) {
            if (this.atEnd()) fail();
            params.push(this.type());
          }
        }
      } finally {
        this.inLambda = saved;
      }
      const n = this.look() === '_' ? 1 : this.number() + 2;
      this.expect('_');
      const o = new Out();
      o.add('{lambda(');
      printList(o, params);
      o.add(`)#${n}}`);
      return new Name(o.s);
    }
    fail();
  }

  private operatorName(st?: NameState): Node {
    const two = this.s.slice(this.p, this.p + 2);
    if (two === 'cv') {
      this.p += 2;
      if (st) st.ctorDtorConversion = true;
      return new Conversion(this.type());
    }
    if (two === 'li') {
      this.p += 2;
      return new Name(`operator"" ${this.sourceName().s}`);
    }
    if (two[0] === 'v' && /\d/.test(two[1] ?? '')) {
      this.p += 2;
      return new Name(`operator ${this.sourceName().s}`);
    }
    const op = OPERATORS[two];
    if (op === undefined) fail();
    this.p += 2;
    return new Name(/^[a-z]/.test(op) ? `operator ${op}` : `operator${op}`);
  }

  private substitution(prefix: boolean): Node {
    this.expect('S');
    const c = this.look();
    if (c && /[absiod]/.test(c) && STD_SUBS[c]) {
      this.p++;
      const e = STD_SUBS[c];
      // as the prefix of a constructor or destructor, the full template name is printed
      const full = prefix && (this.look() === 'C' || this.look() === 'D');
      return new Name(full ? e.full : e.simple, e.last);
    }
    const id = this.seqId();
    const n = this.subs[id];
    if (!n) fail();
    return n;
  }

  private templateParam(): Node {
    this.expect('T');
    const idx = this.seqId();
    // in a generic lambda's signature T_ is its own "auto" parameter (printed now, with no template in scope)
    if (this.inLambda) return new TemplateParam(idx, () => new Name(`auto:${idx + 1}`));
    const now = this.templateParams;
    // a forward reference (conversion operators) is looked up when printing
    return new TemplateParam(idx, () => (idx < now.length ? now[idx] : this.templateParams[idx]));
  }

  private templateArgs(tag: boolean): TemplateArgs {
    this.expect('I');
    const args: Node[] = [];
    const saved = this.templateParams;
    while (!this.eat('E')) {
      if (this.atEnd()) fail();
      args.push(this.templateArg());
    }
    // the outermost name's arguments are what T_ refers to in the rest of the signature
    this.templateParams = tag ? args.map(a => (a instanceof ArgPack ? new ParamPack(a.items) : a)) : saved;
    return new TemplateArgs(args);
  }

  private templateArg(): Node {
    const c = this.look();
    if (c === 'X') fail(); // expression
    if (c === 'L') return this.exprPrimary();
    if (c === 'J') {
      this.p++;
      const items: Node[] = [];
      while (!this.eat('E')) {
        if (this.atEnd()) fail();
        items.push(this.templateArg());
      }
      return new ArgPack(items);
    }
    return this.type();
  }

  private exprPrimary(): Node {
    this.expect('L');
    if (this.eat('_Z') || this.eat('Z')) {
      const saved = this.templateParams;
      const e = this.encoding();
      this.templateParams = saved;
      this.expect('E');
      return e;
    }
    const c = this.look();
    if (c === 'b' && (this.look(1) === '0' || this.look(1) === '1') && this.look(2) === 'E') {
      this.p += 3;
      return new Name(this.s[this.p - 2] === '1' ? 'true' : 'false');
    }
    if (c in LITERAL_SUFFIX && /[n\d]/.test(this.look(1))) {
      this.p++;
      const v = this.number();
      this.expect('E');
      return new Name(`${v}${LITERAL_SUFFIX[c]}`);
    }
    const t = this.type();
    const m = /^(n?)([0-9a-f]*)E/.exec(this.rest());
    if (!m) fail();
    this.p += m[0].length;
    const v = (m[1] ? '-' : '') + m[2];
    if (t instanceof Builtin && (t.s === 'float' || t.s === 'double' || t.s === 'long double')) return new Name(`(${t.s})[${v}]`);
    return new Name(`(${t.text()})${v}`);
  }

  private functionType(): FunctionType {
    this.expect('F');
    this.eat('Y');
    const ret = this.type();
    const params: Node[] = [];
    let ref = '';
    for (;;) {
      if (this.eat('E')) break;
      if (this.look() === 'v' && this.look(1) === 'E') {
        this.p++;
        continue;
      }
      if ((this.look() === 'R' || this.look() === 'O') && this.look(1) === 'E') {
        ref = this.look() === 'R' ? ' &' : ' &&';
        this.p++;
        continue;
      }
      if (this.atEnd()) fail();
      params.push(this.type());
    }
    return new FunctionType(ret, params, ref);
  }

  type(): Node {
    if (++this.depth > 256) fail();
    try {
      return this.typeInner();
    } finally {
      this.depth--;
    }
  }

  private typeInner(): Node {
    const c = this.look();
    if (c in BUILTINS && c !== '') {
      this.p++;
      return new Builtin(BUILTINS[c]);
    }
    let t: Node;
    switch (c) {
      case 'r': case 'V': case 'K': {
        let quals = '';
        while (/[rVK]/.test(this.look())) {
          const q = this.look();
          this.p++;
          quals = (q === 'K' ? ' const' : q === 'V' ? ' volatile' : ' restrict') + quals;
        }
        // cv-qualifiers on a function type belong to it: one substitution candidate, not two
        t = new Qualified(this.look() === 'F' ? this.functionType() : this.type(), quals);
        break;
      }
      case 'u':
        this.p++;
        return new Builtin(this.sourceName().s);
      case 'D': {
        const d = this.look(1);
        if (d in D_BUILTINS) {
          this.p += 2;
          return new Builtin(D_BUILTINS[d]);
        }
        if (d === 'F') {
          this.p += 2;
          const bits = this.number();
          this.expect('_');
          return new Builtin(`_Float${bits}`);
        }
        if (d === 'p') {
          this.p += 2;
          t = new PackExpansion(this.type());
          break;
        }
        fail(); // decltype, vector types, exception specifications, ...
      }
      case 'F':
        t = this.functionType();
        break;
      case 'A': {
        this.p++;
        let dim = '';
        if (/\d/.test(this.look())) dim = String(this.number());
        else if (this.look() !== '_') fail(); // expression dimension
        this.expect('_');
        t = new ArrayType(this.type(), dim);
        break;
      }
      case 'M': {
        this.p++;
        const cls = this.type();
        t = new MemberPointer(cls, this.type());
        break;
      }
      case 'T': {
        if (/[sue]/.test(this.look(1))) { // elaborated type specifier
          this.p += 2;
          t = this.name();
          break;
        }
        t = this.templateParam();
        if (this.look() === 'I') {
          this.subs.push(t);
          t = new WithTemplateArgs(t, this.templateArgs(false));
        }
        break;
      }
      case 'P':
        this.p++;
        t = new PointerLike(this.type(), '*');
        break;
      case 'R':
        this.p++;
        t = new PointerLike(this.type(), '&');
        break;
      case 'O':
        this.p++;
        t = new PointerLike(this.type(), '&&');
        break;
      case 'C':
        this.p++;
        t = new Qualified(this.type(), ' _Complex');
        break;
      case 'G':
        this.p++;
        t = new Qualified(this.type(), ' _Imaginary');
        break;
      case 'S': {
        if (this.look(1) === 't') {
          t = this.name();
          break;
        }
        t = this.substitution(false);
        if (this.look() !== 'I') return t; // a substitution is not a new candidate
        t = new WithTemplateArgs(t, this.templateArgs(false));
        break;
      }
      default:
        if (c === 'N' || c === 'Z' || /\d/.test(c)) {
          t = this.name();
          break;
        }
        fail();
    }
    this.subs.push(t);
    return t;
  }
}

/** " [clone .isra.0] [clone .cold]" for GCC's clone suffixes; undefined if the rest is not one. */
function cloneSuffixes(rest: string): string | undefined {
  let out = '';
  let p = 0;
  while (p < rest.length) {
    const m = /^\.[a-z0-9_][a-z0-9_]*(?:\.\d+)*/.exec(rest.slice(p)) ?? /^(?:\.\d+)+/.exec(rest.slice(p));
    if (!m) return undefined;
    out += ` [clone ${m[0]}]`;
    p += m[0].length;
  }
  return out;
}

/**
 * Demangles an Itanium C++ symbol. By default only the qualified name
 * ("_ZN3foo3barEv" -> "foo::bar"); with { params: true } the full c++filt form ("foo::bar()").
 * A name that is not mangled, or uses something this demangler does not know, comes back unchanged.
 */
export function demangle(name: string, opts: DemangleOptions = {}): string {
  if (name.startsWith('_R') || isRustLegacy(name)) {
    const rust = demangleRust(name);
    if (rust !== undefined) return rust;
  }
  if (!name.startsWith('_Z')) {
    const g = /^_GLOBAL_[._$]([DI])_(.*)$/.exec(name);
    if (g) return `global ${g[1] === 'I' ? 'constructors' : 'destructors'} keyed to ${demangle(g[2], opts)}`;
    return name;
  }
  try {
    const p = new Parser(name.slice(2));
    const enc = p.encoding();
    let suffix = '';
    if (!p.atEnd()) {
      const s = cloneSuffixes(p.rest());
      if (s === undefined) return name;
      suffix = s;
    }
    if (!opts.params && enc instanceof Encoding) return enc.name.text() + suffix;
    return enc.text() + suffix;
  } catch (e) {
    if (e instanceof Unsupported || e instanceof RangeError) return name;
    throw e;
  }
}
