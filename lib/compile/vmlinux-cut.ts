// vmlinux.h cut to what one program names. Parsing the whole header (135k lines) is ~250 ms of every
// compile that has no precompiled header; a program reaches a few hundred of its 15,000 declarations.
// The header is bpftool's dump: top-level declarations separated by blank lines, in an order where a
// type is defined before anything holds it by value. A cut keeps that order and the declarations a
// program reaches: the types, typedefs and enum constants its text (and the headers it includes) name,
// then what those hold by value, and the targets of pointer members the program's text names,
// transitively. Other types reached through a pointer are declared, not defined. The cut is a prefix of
// the program's text with vmlinux.h's include guard, so the program's own #include <vmlinux.h> is then
// a no-op.
import fs from 'node:fs';
import path from 'node:path';
import { contentKey } from './hash.js';
import { statKey, writeAtomic } from '../util/files.js';

/** One top-level declaration of vmlinux.h and what it needs. */
interface Declaration {
  start: number;
  end: number;
  /** Declarations this one needs defined first (by-value members, typedef targets, enum constants). */
  needs: number[];
  /** struct/union tags it reaches through a pointer or a prototype: declared ahead of the cut. */
  pointsTo: string[];
  /** Its pointer members, [member name, tag]: a program that names the member may follow it. */
  pointerMembers: [string, string][];
}

export interface VmlinuxIndex {
  /** Text before the first declaration (guard, pragma push) and after the last (pragma pop, #endif). */
  head: string;
  tail: string;
  declarations: Declaration[];
  /** struct, union and enum tags: the declaration that defines each, and its keyword. */
  tags: Map<string, { at: number; kind: string }>;
  /** typedef names and enum constants: the declaration that defines each. */
  names: Map<string, number>;
}

const TOKEN = /[A-Za-z_]\w*|\S/g;
const TAG_KEYWORDS = new Set(['struct', 'union', 'enum']);

function tokens(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/** The name a typedef declares: `typedef T NAME;`, `typedef T NAME[N];`, `typedef T (*NAME)(...);`. */
function typedefName(text: string): string | undefined {
  const afterBody = text.slice(text.lastIndexOf('}') + 1);
  const fnPointer = /\(\s*\*\s*(\w+)\s*\)\s*\(/.exec(afterBody);
  if (fnPointer) return fnPointer[1];
  const fn = /(\w+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*;\s*$/.exec(afterBody);
  if (fn) return fn[1];
  return /(\w+)\s*(\[[^\]]*\]\s*)*;\s*$/.exec(afterBody)?.[1];
}

/** Reads bpftool's vmlinux.h into declarations and what each one needs. */
export function indexVmlinux(text: string): VmlinuxIndex {
  const push = /#pragma clang attribute push[^\n]*\n#endif\n/.exec(text);
  const pop = text.lastIndexOf('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop');
  if (!push || pop < 0) throw new Error('vmlinux.h: not a bpftool dump (no preserve_access_index pragmas)');
  const bodyStart = push.index + push[0].length;
  const index: VmlinuxIndex = { head: text.slice(0, bodyStart), tail: text.slice(pop), declarations: [], tags: new Map(), names: new Map() };
  const chunks: { start: number; end: number; toks: string[] }[] = [];
  const separator = /\n\s*\n/g;
  let start = bodyStart;
  const cut = (end: number) => {
    const piece = text.slice(start, end);
    if (piece.trim()) {
      const lead = piece.length - piece.trimStart().length;
      chunks.push({ start: start + lead, end, toks: tokens(piece) });
    }
  };
  for (let m; (m = separator.exec(text)) && m.index < pop;) {
    cut(m.index);
    start = m.index + m[0].length;
  }
  cut(pop);

  // bpftool's forward declarations (`struct x;`) are left out: a cut writes its own
  const isForward = (toks: string[]) => toks.length === 3 && TAG_KEYWORDS.has(toks[0]!) && toks[2] === ';';
  const forward = new Map(chunks.filter(c => isForward(c.toks)).map(c => [c.toks[1]!, c.toks[0]!]));
  const definitions = chunks.filter(c => !isForward(c.toks));

  // what each declaration defines
  for (const { start, end, toks } of definitions) {
    const at = index.declarations.length;
    index.declarations.push({ start, end, needs: [], pointsTo: [], pointerMembers: [] });
    let i = 0;
    if (toks[0] === 'typedef') {
      const name = typedefName(text.slice(start, end));
      if (name) index.names.set(name, at);
      i = 1;
    }
    if (TAG_KEYWORDS.has(toks[i]!)) {
      const kind = toks[i]!;
      const named = toks[i + 2] === '{' ? toks[i + 1]! : undefined;
      if (named) index.tags.set(named, { at, kind });
      if (kind === 'enum') {
        // constants: identifiers right after '{' or ',' at the body's depth
        const open = toks.indexOf('{');
        for (let j = open + 1, depth = 1; j < toks.length && depth > 0; j++) {
          const t = toks[j]!;
          if (t === '{' || t === '(') depth++;
          else if (t === '}' || t === ')') depth--;
          else if (depth === 1 && (toks[j - 1] === '{' || toks[j - 1] === ',') && /^[A-Za-z_]/.test(t)) index.names.set(t, at);
        }
      }
    }
  }
  for (const [tag, kind] of forward) if (!index.tags.has(tag)) index.tags.set(tag, { at: -1, kind });

  // what each one needs
  definitions.forEach((c, at) => {
    const decl = index.declarations[at]!;
    const needs = new Set<number>();
    const pointsTo = new Set<string>();
    references(c.toks, index, 'declarations', needs, pointsTo, decl.pointerMembers);
    needs.delete(at);
    decl.needs = [...needs];
    decl.pointsTo = [...pointsTo];
  });
  return index;
}

/**
 * How a text's struct/union tags count. In vmlinux.h itself, one behind a pointer or in a prototype is
 * only declared. A program's own text may reach a type's fields through any pointer it names: all of its
 * tags are defined. libbpf's helper prototypes (bpf_helper_defs.h) only declare theirs.
 */
type Reading = 'declarations' | 'program' | 'prototypes';

/**
 * Adds to `needs` the declarations `toks` needs complete, to `pointsTo` the tags it only declares, and to
 * `pointerMembers` the members that point at a struct or union (`struct net *net;`).
 */
function references(toks: string[], index: VmlinuxIndex, reading: Reading, needs: Set<number>, pointsTo: Set<string>,
  pointerMembers?: [string, string][]): void {
  let parens = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t === '(') parens++;
    else if (t === ')') parens--;
    else if (TAG_KEYWORDS.has(t)) {
      const name = toks[i + 1];
      const tag = name && index.tags.get(name);
      if (!tag) continue;
      i++;
      if (toks[i + 1] === '{') continue; // its own definition
      const declaredOnly = tag.kind !== 'enum' &&
        (reading === 'prototypes' || (reading === 'declarations' && (parens > 0 || toks[i + 1] === '*')));
      if (declaredOnly || tag.at < 0) {
        if (tag.kind !== 'enum') pointsTo.add(name);
        if (pointerMembers && parens === 0 && toks[i + 1] === '*') {
          let j = i + 1;
          while (toks[j] === '*' || toks[j] === 'const' || toks[j] === 'volatile') j++;
          if (/^[A-Za-z_]/.test(toks[j]!) && (toks[j + 1] === ';' || toks[j + 1] === '[' || toks[j + 1] === ',')) pointerMembers.push([toks[j]!, name]);
        }
      } else {
        needs.add(tag.at);
      }
    } else {
      const at = index.names.get(t);
      if (at !== undefined) needs.add(at);
    }
  }
}

/** What a program's text reaches: its own text is read strongly, libbpf's helper prototypes weakly. */
export interface CutSource {
  text: string;
  /** Tags it names are reached through pointers only (bpf_helper_defs.h). */
  prototypesOnly?: boolean;
}

/** The part of vmlinux.h that `sources` need, as C text that stands for the whole header. */
export function cutVmlinux(vmlinuxText: string, index: VmlinuxIndex, sources: CutSource[]): string {
  const needs = new Set<number>();
  const pointsTo = new Set<string>();
  const named = new Set<string>(); // every identifier of the program's own text: members it may follow
  for (const s of sources) {
    const toks = tokens(s.text);
    references(toks, index, s.prototypesOnly ? 'prototypes' : 'program', needs, pointsTo);
    if (!s.prototypesOnly) for (const t of toks) named.add(t);
  }
  const queue = [...needs];
  const need = (n: number) => {
    if (n >= 0 && !needs.has(n)) {
      needs.add(n);
      queue.push(n);
    }
  };
  while (queue.length) {
    const d = index.declarations[queue.pop()!]!;
    for (const tag of d.pointsTo) pointsTo.add(tag);
    for (const n of d.needs) need(n);
    // BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) reaches struct net through a member it names
    for (const [member, tag] of d.pointerMembers) if (named.has(member)) need(index.tags.get(tag)!.at);
  }
  const forward = [...pointsTo].sort().map(tag => `${index.tags.get(tag)!.kind} ${tag};\n`).join('');
  const kept = [...needs].sort((a, b) => a - b).map(n => {
    const d = index.declarations[n]!;
    return vmlinuxText.slice(d.start, d.end);
  });
  return `${index.head}${forward}\n${kept.join('\n\n')}\n\n${index.tail}`;
}

/** Header files a text includes, followed through `dirs` (quotes and angle brackets alike), each once. */
export function includedHeaders(text: string, dirs: string[], seen = new Map<string, string>()): Map<string, string> {
  for (const m of text.matchAll(/^\s*#\s*include\s*[<"]([^>"]+)[>"]/gm)) {
    const name = m[1]!;
    for (const dir of dirs) {
      const file = path.join(dir, name);
      if (seen.has(file)) break;
      let body: string;
      try {
        body = fs.readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      seen.set(file, body);
      includedHeaders(body, [path.dirname(file), ...dirs], seen);
      break;
    }
  }
  return seen;
}

/** Bump when indexVmlinux() changes what it records. */
const INDEX_VERSION = 'cut-1';
const loaded = new Map<string, { text: string; index: VmlinuxIndex }>();

/** An index's file name: the text's content key, so that an index of another vmlinux.h is never read. */
export function indexName(vmlinuxText: string): string {
  return `${contentKey(vmlinuxText, INDEX_VERSION).slice(0, 24)}.json`;
}

export function saveIndex(file: string, index: VmlinuxIndex): void {
  writeAtomic(file, JSON.stringify({ ...index, tags: [...index.tags], names: [...index.names] }));
}

function readIndex(file: string): VmlinuxIndex | undefined {
  try {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    return { ...saved, tags: new Map(saved.tags), names: new Map(saved.names) };
  } catch {
    return undefined;
  }
}

/** vmlinux.h and its index: from this process's memo, a saved index (~30 ms), or made (~200 ms, once). */
function indexed(vmlinuxFile: string, dirs: { shipped: string; cache: string }): { text: string; index: VmlinuxIndex } {
  const memo = statKey(vmlinuxFile);
  let entry = loaded.get(memo);
  if (entry) return entry;
  const text = fs.readFileSync(vmlinuxFile, 'utf8');
  const name = indexName(text);
  const cached = path.join(dirs.cache, 'vmlinux', name);
  let index = readIndex(path.join(dirs.shipped, name)) ?? readIndex(cached);
  if (!index) {
    index = indexVmlinux(text);
    try {
      saveIndex(cached, index);
    } catch { /* read-only cache: made again next time */ }
  }
  entry = { text, index };
  loaded.set(memo, entry);
  return entry;
}

export interface CutRequest {
  /** The program as clang reads it (generated tracepoint structs and the user's text). */
  source: string;
  cflags: string[];
  /** bpfkit's include dir, where vmlinux.h is. */
  includeDir: string;
  cacheDir: string;
  /** Where `npm run build` and npm pack leave the index of the package's vmlinux.h (dist/vmlinux). */
  shippedIndexDir: string;
}

/**
 * The cut of vmlinux.h that stands for it in this program, or undefined where none can: the program
 * does not include it, or asks for its types without preserve_access_index.
 */
export function vmlinuxCutFor(req: CutRequest): string | undefined {
  if ([req.source, ...req.cflags].some(t => t.includes('BPF_NO_PRESERVE_ACCESS_INDEX'))) return undefined;
  const vmlinuxFile = path.join(req.includeDir, 'vmlinux.h');
  const headers = includedHeaders(req.source, [req.includeDir, '/usr/include']);
  if (!headers.has(vmlinuxFile)) return undefined;
  headers.delete(vmlinuxFile);
  const { text, index } = indexed(vmlinuxFile, { shipped: req.shippedIndexDir, cache: req.cacheDir });
  const sources: CutSource[] = [{ text: req.source }];
  for (const [file, body] of headers) sources.push({ text: body, prototypesOnly: path.basename(file) === 'bpf_helper_defs.h' });
  return cutVmlinux(text, index, sources);
}
