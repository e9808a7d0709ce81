// The library on the real kernel: compile, load, attach, histograms, typed maps, errors.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BPF } from '../../lib/bpf.js';
import { CompileError } from '../../lib/compile/index.js';
import { tmpDir } from './helpers.js';
import koffi from 'koffi';

/** A real getppid(2) from this process (process.ppid is cached). */
const getppid = koffi.load('libc.so.6').func('int getppid(void)');

/** Direct-I/O writes: each one reaches the block layer (no page cache). */
function directWrites(dir: string, count: number, bs = 4096) {
  const r = spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'direct.dat')}`, `bs=${bs}`, `count=${count}`, 'oflag=direct,dsync'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
}

const biolatencyBcc = `
#include <bpfkit.h>

BPF_HASH(start, u64, u64);
BPF_HISTOGRAM(dist);

static __always_inline u64 rq_key(u32 dev, u64 sector) { return ((u64)dev << 40) ^ sector; }

TRACEPOINT_PROBE(block, block_rq_issue)
{
	u64 key = rq_key(args->dev, args->sector);
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(block, block_rq_complete)
{
	u64 key = rq_key(args->dev, args->sector);
	u64 *tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	u64 delta = (bpf_ktime_get_ns() - *tsp) / 1000;
	map_increment(dist, bpf_log2l(delta));
	bpf_map_delete_elem(&start, &key);
	return 0;
}
`;

describe('BPF on the running kernel', () => {
  test('a BCC-style histogram program sees direct-I/O writes and prints like BCC', () => {
    const bpf = BPF.load({ text: biolatencyBcc, name: 'biolat_test' });
    try {
      expect(bpf.attachAll()).toBe(2);
      const dir = tmpDir();
      directWrites(dir, 64);
      fs.rmSync(dir, { recursive: true });
      const hist = bpf.histogram('dist');
      const data = hist.read();
      const total = data.slots.reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThanOrEqual(64); // our writes, plus any other I/O meanwhile
      const text = hist.format('usecs');
      expect(text.split('\n')[0]).toBe('     usecs               : count     distribution');
      expect(text).toMatch(/^ +\d+ -> \d+ +: \d+ +\|\*+ *\|$/m);
      expect(text).toContain('|****************************************|'); // the fullest row is 40 stars
    } finally {
      bpf.close();
    }
  });

  test('RAW_TRACEPOINT_PROBE and BPF_PERCPU_ARRAY: context switches are counted', async () => {
    const bpf = BPF.load({
      name: 'rawtp_test',
      text: `#include <bpfkit.h>
BPF_PERCPU_ARRAY(switches, u64, 1);
RAW_TRACEPOINT_PROBE(sched_switch) {
	u32 zero = 0;
	u64 *c = bpf_map_lookup_elem(&switches, &zero);
	if (c) (*c)++;
	return 0;
}`,
    });
    try {
      expect(bpf.programs.get('raw_tracepoint__sched_switch')!.section).toBe('raw_tp/sched_switch');
      expect(bpf.attachAll()).toBe(1);
      await new Promise(r => setTimeout(r, 300));
      const perCpu = bpf.map('switches').get(0) as bigint[];
      expect(perCpu.reduce((a, b) => a + b, 0n)).toBeGreaterThan(0n);
    } finally {
      bpf.close();
    }
  });

  test('invalid C quotes clang with the user\'s line', () => {
    const text = '#include <bpfkit.h>\n\nSEC("tracepoint/syscalls/sys_enter_getpid")\nint f(void *ctx) {\n\treturn undefined_thing;\n}\n';
    let err: unknown;
    try {
      BPF.load({ text, name: 'broken' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompileError);
    const msg = (err as Error).message;
    expect(msg).toContain('broken.bpf.c:5:');
    expect(msg).toContain("use of undeclared identifier 'undefined_thing'");
    expect(msg).toContain('return undefined_thing;');
  });

  test('a program the verifier rejects gives the verifier\'s reason', () => {
    const text = `#include <bpfkit.h>
SEC("tracepoint/syscalls/sys_enter_getpid")
int bad(void *ctx) {
	int *p = (int *)0x1234;
	return *p;
}`;
    expect(() => BPF.load({ text, name: 'rejected' })).toThrow(/loading program bad \(tracepoint\/syscalls\/sys_enter_getpid\).*\n.*verifier:.*(invalid mem access|R\d)/s);
  });

  test('a missing tracepoint is named', () => {
    const text = `#include <bpfkit.h>
SEC("tracepoint/nosuch/event_xyz") int t(void *ctx) { return 0; }`;
    expect(() => BPF.load({ text, name: 'missing_tp' })).toThrow(/tracepoint nosuch:event_xyz does not exist on this kernel/);
  });

  test('typed map round trips through BTF', () => {
    const text = `#include <bpfkit.h>
struct inner { u16 a; u8 b[3]; };
struct mvalue { u32 i; u64 big; char name[16]; struct inner in; u32 arr[4]; s32 neg; };
struct mkey { u32 pid; char comm[16]; };
BPF_HASH(h, struct mkey, struct mvalue, 128);
BPF_PERCPU_ARRAY(pc, u64, 4);
BPF_ARRAY(arr, u64, 8);
SEC("tracepoint/syscalls/sys_enter_getpid") int t(void *ctx) { return 0; }`;
    const bpf = BPF.load({ text, name: 'maps_test' });
    try {
      const h = bpf.map('h');
      const key = { pid: 42, comm: 'hello' };
      const value = { i: 7, big: 2n ** 60n + 5n, name: 'a name', in: { a: 65535, b: [1, 2, 3] }, arr: [1, 2, 3, 4], neg: -5 };
      h.set(key, value);
      expect(h.get(key)).toEqual(value);
      expect(h.get({ pid: 43, comm: 'hello' })).toBeUndefined();
      for (let i = 0; i < 100; i++) h.set({ pid: 1000 + i, comm: `c${i}` }, { ...value, i });
      const entries = h.entries();
      expect(entries.length).toBe(101);
      expect(entries.find(([k]) => k.pid === 1050)![1].i).toBe(50);
      expect(h.delete(key)).toBe(true);
      expect(h.delete(key)).toBe(false);
      h.clear();
      expect(h.entries().length).toBe(0);

      const pc = bpf.map('pc');
      expect(pc.percpu).toBe(true);
      pc.set(1, [5n, 6n].concat(new Array(Math.max(0, pc.ncpus - 2)).fill(0n)).slice(0, pc.ncpus));
      const per = pc.get(1) as bigint[];
      expect(per.length).toBe(pc.ncpus);
      expect(per[0]).toBe(5n);

      const arr = bpf.map('arr');
      arr.set(3, 99n);
      expect(arr.get(3)).toBe(99n);
      expect(arr.entries().length).toBe(8);
    } finally {
      bpf.close();
    }
  });

  test('a 10 000-entry hash is read whole, every entry with its value', () => {
    const text = `#include <bpfkit.h>
BPF_HASH(big, u32, u64, 10000);
SEC("tracepoint/syscalls/sys_enter_getpid") int t(void *ctx) { return 0; }`;
    const bpf = BPF.load({ text, name: 'bigmap' });
    try {
      const m = bpf.map('big');
      for (let i = 0; i < 10000; i++) m.set(i, BigInt(i));
      const e = m.entries();
      expect(e.length).toBe(10000);
      expect(e.every(([k, v]) => v === BigInt(k))).toBe(true);
      expect(new Set(e.map(([k]) => k)).size).toBe(10000);
    } finally {
      bpf.close();
    }
  });

  test('const volatile globals are set before load; .bss is live', () => {
    const text = `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
u64 hits = 0;
SEC("tracepoint/syscalls/sys_enter_getppid") int t(void *ctx) {
	if (bpfkit_tgid() != targ_tgid) return 0;
	__sync_fetch_and_add(&hits, 1);
	return 0;
}`;
    const bpf = BPF.load({ text, name: 'globals', rodata: { targ_tgid: process.pid } });
    try {
      bpf.attachAll();
      const g = bpf.globals('.bss');
      const before = g.hits as bigint;
      spawnSync(process.execPath, ['-e', '0']); // other processes are filtered out
      for (let i = 0; i < 10; i++) getppid();
      expect(Number((g.hits as bigint) - before)).toBeGreaterThanOrEqual(10);
    } finally {
      bpf.close();
    }
  });

  test('CO-RE relocates against the object\'s own cut of the kernel BTF, and the whole BTF where the cut fails', () => {
    const text = `#include <bpfkit.h>
const volatile u32 targ_tgid = 0;
u32 parent_tgid = 0;
SEC("tracepoint/syscalls/sys_enter_getppid") int parent(void *ctx) {
	if (bpfkit_tgid() != targ_tgid) return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	parent_tgid = BPF_CORE_READ(task, real_parent, tgid);
	return 0;
}`;
    const parentSeen = (opts: { fullKernelBtf?: boolean } = {}) => {
      const bpf = BPF.load({ text, name: 'core_btf', rodata: { targ_tgid: process.pid }, ...opts });
      try {
        bpf.attachAll();
        getppid();
        return { parent: bpf.globals('.bss').parent_tgid, coreBtf: bpf.coreBtf };
      } finally {
        bpf.close();
      }
    };
    const cut = parentSeen();
    // this kernel has no module BTF, so the cut serves; it holds a few types, not the kernel's thousands
    expect(fs.readdirSync('/sys/kernel/btf')).toEqual(['vmlinux']);
    expect(cut.coreBtf).toBeDefined();
    expect(fs.statSync(cut.coreBtf!).size).toBeLessThan(fs.statSync('/sys/kernel/btf/vmlinux').size / 100);
    expect(cut.parent).toBe(process.ppid);
    const full = parentSeen({ fullKernelBtf: true });
    expect(full).toEqual({ parent: process.ppid, coreBtf: undefined });
    // a cut libbpf cannot use: the load is retried with the whole kernel BTF, and the cut is not offered again
    const saved = fs.readFileSync(cut.coreBtf!);
    try {
      fs.writeFileSync(cut.coreBtf!, 'not BTF');
      expect(parentSeen()).toEqual({ parent: process.ppid, coreBtf: undefined });
      expect(parentSeen()).toEqual({ parent: process.ppid, coreBtf: undefined });
    } finally {
      fs.writeFileSync(cut.coreBtf!, saved);
    }
  });
});


test('500 links are destroyed concurrently and all of them go (koffi limits calls in flight)', async () => {
  const bpf = BPF.load({ text: `#include <bpfkit.h>
SEC("raw_tp/sys_enter") int many_links(void *ctx) { return 0; }`, name: 'many-links.bpf.c' });
  for (let i = 0; i < 500; i++) bpf.attachRawTracepoint('many_links', 'sys_enter');
  const linksOf = () => fs.readdirSync('/proc/self/fd').filter(fd => {
    try { return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:bpf_link'; } catch { return false; }
  }).length;
  expect(linksOf()).toBeGreaterThanOrEqual(500);
  await bpf.closeAsync();
  expect(linksOf()).toBe(0);
});
