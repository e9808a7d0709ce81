// Drops the DWARF from a relocatable BPF object in-process. libbpf reads .BTF/.BTF.ext and skips
// .debug_* by name, so the DWARF (90% of the bytes once vmlinux types are involved) only bloats the
// cache; removing it here saves spawning llvm-strip, whose start-up alone costs 30-80 ms.
//
// The sections are emptied, not removed: every section index stays valid, so the symbol table and the
// relocations of the code, .BTF and .BTF.ext need no renumbering.

const ET_REL = 1;
const SHT_NOBITS = 8;

const isDebugSection = (name: string) => /^(\.rela?)?\.debug_/.test(name);

interface Section {
  header: number; // offset of its header in the input
  type: number;
  offset: number;
  size: number;
  align: number;
  drop: boolean;
}

/** The object without its DWARF bytes; anything not a plain ELF64 relocatable comes back unchanged. */
export function dropDebugSections(elf: Buffer): Buffer {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return elf; // ELF64 only
  const le = elf[5] === 1;
  const u16 = (o: number) => (le ? elf.readUInt16LE(o) : elf.readUInt16BE(o));
  const u32 = (o: number) => (le ? elf.readUInt32LE(o) : elf.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? elf.readBigUInt64LE(o) : elf.readBigUInt64BE(o));
  if (u16(16) !== ET_REL || u16(56) !== 0) return elf; // relocatable, no program headers
  const shoff = u64(40);
  const shentsize = u16(58);
  const shnum = u16(60);
  const shstrndx = u16(62);
  if (shentsize !== 64 || shnum === 0 || shstrndx >= shnum || shoff + shnum * 64 > elf.length) return elf;

  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    sections.push({ header: h, type: u32(h + 4), offset: u64(h + 24), size: u64(h + 32), align: Math.max(1, u64(h + 48)), drop: false });
  }
  const names = sections[shstrndx];
  const nameAt = (o: number) => {
    const start = names.offset + o;
    const end = elf.indexOf(0, start);
    return elf.toString('latin1', start, end < 0 ? start : end);
  };
  let dropped = 0;
  for (let i = 1; i < shnum; i++) {
    if (isDebugSection(nameAt(u32(sections[i].header)))) {
      sections[i].drop = true;
      dropped++;
    }
  }
  if (!dropped) return elf;

  // Lay the kept sections' bytes out again in their original order, then the section headers.
  const chunks: Buffer[] = [elf.subarray(0, 64)];
  let pos = 64;
  const placed: { offset: number; size: number }[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = sections[i];
    if (i === 0 || s.type === SHT_NOBITS) {
      placed.push({ offset: i === 0 ? 0 : pos, size: s.size });
      continue;
    }
    const pad = (s.align - (pos % s.align)) % s.align;
    if (pad) chunks.push(Buffer.alloc(pad));
    pos += pad;
    const size = s.drop ? 0 : s.size;
    if (s.offset + size > elf.length) return elf;
    chunks.push(elf.subarray(s.offset, s.offset + size));
    placed.push({ offset: pos, size });
    pos += size;
  }
  const headerPad = (8 - (pos % 8)) % 8;
  if (headerPad) chunks.push(Buffer.alloc(headerPad));
  pos += headerPad;
  const headers = Buffer.from(elf.subarray(shoff, shoff + shnum * 64));
  const put64 = (b: Buffer, o: number, v: number) => (le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o));
  for (let i = 0; i < shnum; i++) {
    put64(headers, i * 64 + 24, placed[i].offset);
    put64(headers, i * 64 + 32, placed[i].size);
  }
  chunks.push(headers);
  const out = Buffer.concat(chunks);
  put64(out, 40, pos);
  return out;
}
