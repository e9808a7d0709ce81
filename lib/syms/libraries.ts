// Library and binary resolution for uprobes: "c", "libc", "libc.so.6", "/path/to/bin", "bash".
// Order as in BCC's bcc_resolve_symname: a path as is; the target process's own mappings; the
// dynamic linker's cache (/etc/ld.so.cache, parsed here); the usual library directories; PATH.
import fs from 'node:fs';
import path from 'node:path';

export interface LdCacheEntry { key: string; path: string; flags: number; hwcap: bigint }

const CACHE_MAGIC_NEW = 'glibc-ld.so.cache1.1';
const FLAG_ELF_LIBC6 = 0x0003, FLAG_TYPE_MASK = 0x00ff, FLAG_REQUIRED_MASK = 0xff00;

/** The ld.so.cache "required" flag bits of this machine's 64-bit libraries (undefined: accept any). */
function archFlag(): number | undefined {
  switch (process.arch) {
    case 'x64': return 0x0300;     // FLAG_X8664_LIB64
    case 'arm64': return 0x0a00;   // FLAG_AARCH64_LIB64
    case 'riscv64': return 0x1000; // FLAG_RISCV_FLOAT_ABI_DOUBLE (lp64d)
    default: return undefined;
  }
}

/**
 * Parses the binary format of /etc/ld.so.cache ("glibc-ld.so.cache1.1", possibly after an old
 * "ld.so-1.7.0" table): a 48-byte header (magic+version, nlibs, len_strings, flags, extension
 * offset), then nlibs 24-byte entries {int32 flags, u32 key, u32 value, u32 osversion, u64 hwcap}
 * whose key (soname) and value (path) are string offsets from the start of that header.
 */
export function parseLdSoCache(buf: Buffer): LdCacheEntry[] {
  const base = buf.indexOf(CACHE_MAGIC_NEW, 0, 'latin1');
  if (base < 0 || base + 48 > buf.length) return [];
  const nlibs = buf.readUInt32LE(base + 20);
  const out: LdCacheEntry[] = [];
  const str = (off: number) => {
    const at = base + off;
    if (at >= buf.length) return '';
    const end = buf.indexOf(0, at);
    return buf.toString('utf8', at, end < 0 ? buf.length : end);
  };
  for (let i = 0; i < nlibs; i++) {
    const e = base + 48 + i * 24;
    if (e + 24 > buf.length) break;
    out.push({ flags: buf.readInt32LE(e), key: str(buf.readUInt32LE(e + 4)), path: str(buf.readUInt32LE(e + 8)), hwcap: buf.readBigUInt64LE(e + 16) });
  }
  return out;
}

let ldCache: { mtime: number; entries: LdCacheEntry[] } | undefined;

/** This machine's ld.so.cache entries usable by 64-bit processes of its architecture. */
export function ldSoCache(file = '/etc/ld.so.cache'): LdCacheEntry[] {
  let mtime = -1;
  try {
    mtime = fs.statSync(file).mtimeMs;
  } catch {
    return [];
  }
  if (file === '/etc/ld.so.cache' && ldCache?.mtime === mtime) return ldCache.entries;
  let entries: LdCacheEntry[] = [];
  try {
    const want = archFlag();
    entries = parseLdSoCache(fs.readFileSync(file)).filter(e =>
      (e.flags & FLAG_TYPE_MASK) === FLAG_ELF_LIBC6 && (want === undefined || (e.flags & FLAG_REQUIRED_MASK) === want));
  } catch { /* unreadable */ }
  if (file === '/etc/ld.so.cache') ldCache = { mtime, entries };
  return entries;
}

/** "c" / "libc" -> "c"; anything with ".so" is a file name and is kept whole. */
function libStem(name: string): string | undefined {
  if (name.includes('.so')) return undefined;
  return name.startsWith('lib') ? name.slice(3) : name;
}

/** Whether a file's base name is the library asked for: exact, lib<stem>.so[.N...], or lib<stem>-X.Y.so. */
function matchesLibrary(base: string, name: string): boolean {
  if (base === name) return true;
  const stem = libStem(name);
  if (stem === undefined) return false;
  const so = `lib${stem}.so`;
  if (base === so || base.startsWith(so + '.')) return true;
  return base.startsWith(`lib${stem}-`) && /^[0-9.]+\.so(\.|$)/.test(base.slice(stem.length + 4));
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function sameMountNamespace(pid: number): boolean {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/mnt`) === fs.readlinkSync('/proc/self/ns/mnt');
  } catch {
    return true;
  }
}

const LIB_DIRS = ['/lib64', '/usr/lib64', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib', '/usr/lib', '/usr/local/lib'];

/**
 * A library or executable name -> absolute path. "c", "libc", "libc.so.6" find libc through the
 * process's mappings (pid given) or /etc/ld.so.cache; a path is returned (absolute) if it exists;
 * a bare executable name is looked up in PATH. For a process in another mount namespace (a
 * container), the path is given through /proc/PID/root. Throws "cannot find library or binary 'x'".
 */
export function resolveLibrary(nameOrPath: string, pid?: number): string {
  const name = nameOrPath.trim();
  const notFound = () => new Error(`cannot find library or binary '${nameOrPath}'`);
  if (!name) throw notFound();
  if (name.includes('/')) {
    if (pid && name.startsWith('/') && !sameMountNamespace(pid) && fs.existsSync(`/proc/${pid}/root${name}`)) return `/proc/${pid}/root${name}`;
    if (fs.existsSync(name)) return path.resolve(name);
    throw notFound();
  }
  if (pid) {
    try {
      const seen = new Set<string>();
      for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        const i = line.indexOf('/');
        if (i < 0) continue;
        const p = line.slice(i).replace(/ \(deleted\)$/, '');
        if (seen.has(p)) continue;
        seen.add(p);
        if (matchesLibrary(path.basename(p), name)) return sameMountNamespace(pid) ? p : `/proc/${pid}/root${p}`;
      }
    } catch { /* gone: fall back to this machine's view */ }
  }
  const cache = ldSoCache();
  // exact soname first, then lib<stem>.so*, preferring entries outside glibc-hwcaps subdirectories
  const pick = (f: (e: LdCacheEntry) => boolean) => {
    const hits = cache.filter(f);
    return hits.find(e => e.hwcap === 0n && !e.path.includes('/glibc-hwcaps/')) ?? hits[0];
  };
  const hit = pick(e => e.key === name) ?? pick(e => matchesLibrary(e.key, name));
  if (hit && isFile(hit.path)) return hit.path;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  const stem = libStem(name);
  for (const dir of dirs) {
    if (stem === undefined) {
      if (isFile(path.join(dir, name))) return path.join(dir, name);
      continue;
    }
    try {
      const f = fs.readdirSync(dir).filter(x => matchesLibrary(x, name)).sort()[0];
      if (f && isFile(path.join(dir, f))) return path.join(dir, f);
    } catch { /* no such dir */ }
  }
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  throw notFound();
}
