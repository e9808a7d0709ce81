// Which programs the precompiled bpfkit.h stands for: those whose first include is bpfkit.h, directly or
// through one of bpfkit's own headers whose first line after its include guard includes it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startsWithBpfkitInclude } from '../../lib/compile/pch.js';

const includeDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bpf-c', 'include');

test('bpfkit.h first, after comments', () => {
  expect(startsWithBpfkitInclude('// a tool\n/* its C */\n#include <bpfkit.h>\nint x;')).toBe(true);
  expect(startsWithBpfkitInclude('#define TASK_COMM 8\n#include <bpfkit.h>\n')).toBe(false);
  expect(startsWithBpfkitInclude('#include <vmlinux.h>\n#include <bpfkit.h>\n')).toBe(false);
});

test('one of bpfkit\'s headers first, which includes bpfkit.h first: one level or two', () => {
  expect(startsWithBpfkitInclude('#include <bpfkit_net.h>\n', includeDir)).toBe(true);
  expect(startsWithBpfkitInclude('#include <bpfkit_sock.h>\n', includeDir)).toBe(true); // through bpfkit_net.h
  expect(startsWithBpfkitInclude('#include <bpfkit_net.h>\n')).toBe(false); // no include dir to read it in
  expect(startsWithBpfkitInclude('#include <bpfkit_nonesuch.h>\n', includeDir)).toBe(false);
  // every bpfkit_*.h of the project qualifies: a new one that does not would lose its tools the PCH
  const headers = fs.readdirSync(includeDir).filter(f => /^bpfkit_\w+\.h$/.test(f));
  expect(headers.filter(h => !startsWithBpfkitInclude(`#include <${h}>\n`, includeDir))).toEqual([]);
});

test('a header that defines something before bpfkit.h does not qualify', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-pch-'));
  try {
    fs.writeFileSync(path.join(dir, 'bpfkit_early.h'), '#ifndef E\n#define E\n#define HEAP 64\n#include <bpfkit.h>\n#endif\n');
    fs.writeFileSync(path.join(dir, 'bpfkit_guarded.h'), '/* x */\n#ifndef G\n#define G\n#include <bpfkit.h>\n#endif\n');
    fs.writeFileSync(path.join(dir, 'bpfkit_unguarded.h'), '#define U 1\n#include <bpfkit.h>\n');
    expect(startsWithBpfkitInclude('#include <bpfkit_early.h>\n', dir)).toBe(false);
    expect(startsWithBpfkitInclude('#include <bpfkit_guarded.h>\n', dir)).toBe(true);
    expect(startsWithBpfkitInclude('#include <bpfkit_unguarded.h>\n', dir)).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
