// Rust demangling against two sources of truth: a Rust program built here with Debian's rustc, in
// both manglings, whose every Rust symbol must read as binutils' `nm --demangle=rust` reads it (and
// as the program's source names it); and mangled strings typed in from rustc-demangle's test suite
// and the v0 grammar (RFC 2603), assembled into an object so nm reads them too.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demangle, ElfFile, formatSymbol } from '../../lib/syms/index.js';
import { demangleRust, punycodeDecode } from '../../lib/syms/demangle-rust.js';
import { buildSpin, noRustc } from '../fixtures/rust/build.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-rust-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** nm's symbol names in file order, raw and demangled by binutils' Rust demangler. */
function nmNames(file: string): { raw: string; nm: string }[] {
  const list = (extra: string[]) => spawnSync('nm', ['--defined-only', ...extra, file], { encoding: 'utf8', maxBuffer: 1 << 28 })
    .stdout.split('\n').filter(Boolean).map(l => l.slice(19));
  const raw = list([]), dem = list(['--demangle=rust']);
  expect(dem).toHaveLength(raw.length);
  return raw.map((r, i) => ({ raw: r, nm: dem[i] }));
}

/**
 * What nm prints for a name we demangle, where binutils 2.40 and rustc's own demangler differ (we
 * print as rustc-demangle does): nm drops ".0"-style endings rustc-demangle keeps, leaves legacy
 * "$u..$" escapes of non-ASCII characters as they are, and escapes non-ASCII chars in constants.
 */
function asNmPrints(raw: string, ours: string): string {
  let s = ours;
  const end = /^(_R.*?|_ZN.*?17h[0-9a-f]{16}E)(\.[^]*)$/.exec(raw.replace(/\.llvm\.[0-9A-F@]+$/, ''));
  if (end && s.endsWith(end[2])) s = s.slice(0, -end[2].length);
  if (raw.startsWith('_ZN')) s = s.replace(/[^\x00-\x7f]/gu, c => `$u${c.codePointAt(0)!.toString(16)}$`);
  return s;
}

const rust = noRustc ? describe.skip : describe;

rust(`a program built with ${'/usr/bin/rustc'}${noRustc ? ` (skipped: ${noRustc})` : ''}`, () => {
  for (const mangling of ['legacy', 'v0'] as const) {
    test(`${mangling}: every Rust symbol reads as nm --demangle=rust reads it`, () => {
      const bin = buildSpin(dir, mangling);
      const names = nmNames(bin).filter(n => n.raw.startsWith('_R') || /^_ZN.*17h[0-9a-f]{16}E/.test(n.raw));
      // the program's own symbols are in the scheme asked for; std's are legacy (precompiled) in both
      const own = names.filter(n => n.raw.includes('4spin'));
      expect(own.length).toBeGreaterThanOrEqual(8);
      for (const n of own) expect(n.raw.startsWith(mangling === 'v0' ? '_R' : '_ZN')).toBe(true);
      expect(names.length).toBeGreaterThan(500);
      const differ = names.filter(n => n.nm !== n.raw) // names nm reads
        .map(n => ({ raw: n.raw, nm: n.nm, ours: asNmPrints(n.raw, demangle(n.raw)) }))
        .filter(n => n.ours !== n.nm);
      expect(differ).toEqual([]);
      expect(names.filter(n => n.nm === n.raw).map(n => n.raw)).toEqual([]); // and nm reads them all
    });

    test(`${mangling}: the functions print as the source names them`, () => {
      const elf = ElfFile.open(buildSpin(dir, mangling));
      const names = new Set(elf.symbols().map(s => formatSymbol({ name: s.name, offset: 0 }, 0n)));
      const expected = [
        'spin::main', 'spin::hot_loop', 'spin::call_dyn', 'spin::café::naïve',
        '<spin::Wrapper<u32> as spin::Spin>::spin',
        mangling === 'v0' ? '<spin::Wrapper<u32>>::widen' : 'spin::Wrapper<T>::widen',
        mangling === 'v0' ? '<spin::Grid<3, 4>>::cells' : 'spin::Grid<_,_>::cells',
      ];
      if (mangling === 'v0') {
        expected.push('<spin::main::{closure#0} as core::ops::function::FnOnce<(u64,)>>::call_once::{shim:vtable#0}',
          'core::ptr::drop_in_place::<spin::main::{closure#1}>');
      }
      for (const e of expected) expect({ e, found: names.has(e) }).toEqual({ e, found: true });
    });
  }
});

// [mangled, as rustc-demangle prints it ({:#}), as binutils' nm prints it where that differs]
const V0: [string, string, string?][] = [
  // from rustc-demangle's tests
  ['_RNvC6_123foo3bar', '123foo::bar'],
  ['_RNCNCNgCs6DXkGYLi8lr_2cc5spawn00B5_', 'cc::spawn::{closure#0}::{closure#0}'],
  ['_RINbNbCskIICzLVDPPb_5alloc5alloc8box_freeDINbNiB4_5boxed5FnBoxuEp6OutputuEL_ECs1iopQbuBiw2_3std',
    'alloc::alloc::box_free::<dyn alloc::boxed::FnBox<(), Output = ()>>'],
  ['_RMC0INtC8arrayvec8ArrayVechKj7b_E', '<arrayvec::ArrayVec<u8, 123>>'],
  ['_RMCs4fqI2P2rA04_13const_genericINtB0_8UnsignedKhb_E', '<const_generic::Unsigned<11>>'],
  ['_RMCs4fqI2P2rA04_13const_genericINtB0_6SignedKanb_E', '<const_generic::Signed<-11>>'],
  ['_RMCs4fqI2P2rA04_13const_genericINtB0_4BoolKb1_E', '<const_generic::Bool<true>>'],
  ['_RMCs4fqI2P2rA04_13const_genericINtB0_4CharKca_E', "<const_generic::Char<'\\n'>>"],
  ['_RMCs4fqI2P2rA04_13const_genericINtB0_4CharKc2202_E', "<const_generic::Char<'∂'>>", "<const_generic::Char<'\\u{2202}'>>"],
  ['_RMCs4fqI2P2rA04_13const_genericINtB0_3StrKRe616263_E', '<const_generic::Str<"abc">>', '_RMCs4fqI2P2rA04_13const_genericINtB0_3StrKRe616263_E'],
  ['_RNvNvMCs4fqI2P2rA04_13const_genericINtB4_3FooKpE3foo3FOO', '<const_generic::Foo<_>>::foo::FOO'],
  ['_RNvC9backtrace3foo.llvm.A5310EB9', 'backtrace::foo'],
  ['_RNvNtNtNtNtCs92dm3009vxr_4rand4rngs7adapter9reseeding4fork23FORK_HANDLER_REGISTERED.0.0',
    'rand::rngs::adapter::reseeding::fork::FORK_HANDLER_REGISTERED.0.0', 'rand::rngs::adapter::reseeding::fork::FORK_HANDLER_REGISTERED'],
  // written here from the grammar: fn pointers, binders, ABIs, dyn, tuples, arrays, pointers, impls, shims
  ['_RINvCs7qp2U7fqm6G_4test5applyFG_RL0_yEyE', "test::apply::<for<'a> fn(&'a u64) -> u64>"],
  ['_RINvCs7qp2U7fqm6G_4test5applyFUKCPhEuE', 'test::apply::<unsafe extern "C" fn(*const u8)>'],
  ['_RINvCs7qp2U7fqm6G_4test5applyFK13system_unwindEuE', 'test::apply::<extern "system-unwind" fn()>'],
  ['_RINvCs7qp2U7fqm6G_4test5applyFG_RL0_DNtNtCs1_4core3fmt5DebugEL0_EuE', "test::apply::<for<'a> fn(&'a dyn core::fmt::Debug + 'a)>"],
  ['_RINvCs7qp2U7fqm6G_4test4showDG0_NtNtCs1_4core3fmt5DebugEL_E', "test::show::<dyn for<'a, 'b> core::fmt::Debug>"],
  ['_RINvCs7qp2U7fqm6G_4test4showRL_DNtNtCs1_4core3fmt5DebugEL_E', 'test::show::<&dyn core::fmt::Debug>'],
  ['_RINvCs7qp2U7fqm6G_4test4takeTyEE', 'test::take::<(u64,)>'],
  ['_RINvCs7qp2U7fqm6G_4test4takeTyaEE', 'test::take::<(u64, i8)>'],
  ['_RINvCs7qp2U7fqm6G_4test4takeAhj10_E', 'test::take::<[u8; 16]>'],
  ['_RINvCs7qp2U7fqm6G_4test4takeSRQOPzE', 'test::take::<[&&mut *mut *const !]>'],
  ['_RNvXs_Cs7qp2U7fqm6G_4testNtB4_5PointNtNtCs1_4core5clone5Clone5clone', '<test::Point as core::clone::Clone>::clone'],
  ['_RNvYNtCs7qp2U7fqm6G_4test5PointNtNtCs1_4core5clone5Clone5clone', '<test::Point as core::clone::Clone>::clone'],
  ['_RNCNvCs7qp2U7fqm6G_4test4mains0_0', 'test::main::{closure#2}'],
  ['_RNSNvCs7qp2U7fqm6G_4test4main6vtable', 'test::main::{shim:vtable#0}'],
  ['_RNvCs7qp2U7fqm6G_4testu7caf_dma', 'test::café'], // punycode
  ['_RNvNtCsj4Lwcg8giTe_4spinu7caf_dmau8nave_6pa', 'spin::café::naïve'],
];
// not Rust symbols, or broken ones: printed as they are
const INVALID = ['_R', '_RNvB_1a' /* a backreference to itself */, '_RNvCs7qp2U7fqm6G_4test' /* no identifier */,
  '_RINvC4test4showRL0_DNtC4core5DebugEL_E' /* a lifetime no binder bound */, '_RNvC4test3fooZ' /* junk after it */];
const LEGACY: [string, string][] = [
  ['_ZN4core3fmt9Formatter3pad17h54b3a3c1a9c2a1c3E', 'core::fmt::Formatter::pad'],
  ['_ZN71_$LT$Test$u20$$u2b$$u20$$u27$static$u20$as$u20$foo..Bar$LT$Test$GT$$GT$3bar17h930b740aa94f1d3aE',
    "<Test + 'static as foo::Bar<Test>>::bar"],
  ['_ZN4core5slice77_$LT$impl$u20$core..ops..index..IndexMut$LT$I$GT$$u20$for$u20$$u5b$T$u5d$$GT$9index_mut17haf9727c2edfbc47bE.exit.i.i',
    'core::slice::<impl core::ops::index::IndexMut<I> for [T]>::index_mut.exit.i.i'],
  ['_ZN9backtrace3foo17hbb467fcdaea5d79bE.llvm.A5310EB9', 'backtrace::foo'],
  ['_ZN3foo23$RF$$BP$$C$$SP$$LP$$RP$17h0123456789abcdefE', 'foo::&*,@()'],
  ['_ZN4spin8caf$ue9$17h0123456789abcdefE', 'spin::café'],
];

test('v0 and legacy symbols typed in: as rustc-demangle prints them; nm reads them alike', () => {
  for (const [mangled, want] of [...V0, ...LEGACY]) expect({ mangled, got: demangle(mangled) }).toEqual({ mangled, got: want });
  for (const s of INVALID) {
    expect(demangleRust(s)).toBeUndefined();
    expect(demangle(s)).toBe(s);
  }
  // the same names through binutils, from an object assembled with them
  const asm = path.join(dir, 'names.s'), obj = path.join(dir, 'names.o');
  fs.writeFileSync(asm, V0.map(([m]) => `.globl "${m}"\n"${m}":\n`).join(''));
  const as = spawnSync('as', ['-o', obj, asm], { encoding: 'utf8' });
  expect(as.stderr).toBe('');
  const nm = new Map(nmNames(obj).map(n => [n.raw, n.nm]));
  for (const [mangled, want, nmWant] of V0) expect({ mangled, nm: nm.get(mangled) }).toEqual({ mangled, nm: nmWant ?? want });
});

test('C++ names are left to the Itanium demangler (no Rust hash: not Rust)', () => {
  expect(demangle('_ZN3foo3barEv')).toBe('foo::bar');
  expect(demangle('_ZN3foo3barE')).toBe('foo::bar');
  expect(demangle('_ZN3foo17h0123456789abcdefEv')).toBe('foo::h0123456789abcdef'); // hash-shaped, but with parameters: C++
});

test('punycode (RFC 3492 sample strings, "_" for "-")', () => {
  expect(punycodeDecode('', 'ihqwcrb4cv8a8dqg056pqjye')).toBe('他们为什么不说中文');
  expect(punycodeDecode('caf', 'dma')).toBe('café');
  expect(() => punycodeDecode('a', '')).toThrow();
});
