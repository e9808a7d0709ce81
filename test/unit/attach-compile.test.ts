// Pure logic of attach/ and compile/: SEC() parsing, fallback groups, tracepoint struct generation.
import { fallbackGroup, parseSection, targetFunctions } from '../../lib/attach/sections.js';
import { parseTracepointFormat, tracepointStruct } from '../../lib/compile/tracepoints.js';

test('SEC names parse into probe kinds and targets', () => {
  expect(parseSection('tracepoint/syscalls/sys_enter_execve')).toEqual({ kind: 'tracepoint', target: 'syscalls/sys_enter_execve', offset: undefined });
  expect(parseSection('tp/sched/sched_switch').kind).toBe('tracepoint');
  expect(parseSection('raw_tp/sched_switch')).toMatchObject({ kind: 'raw_tp', target: 'sched_switch' });
  expect(parseSection('raw_tracepoint/sched_wakeup')).toMatchObject({ kind: 'raw_tp', target: 'sched_wakeup' });
  expect(parseSection('tp_btf/sched_wakeup_new')).toMatchObject({ kind: 'tp_btf', target: 'sched_wakeup_new' });
  expect(parseSection('kprobe/vfs_read+0x10')).toEqual({ kind: 'kprobe', target: 'vfs_read', offset: 16 });
  expect(parseSection('kretprobe/vfs_read')).toMatchObject({ kind: 'kretprobe', target: 'vfs_read' });
  expect(parseSection('fentry/vfs_read')).toMatchObject({ kind: 'fentry', target: 'vfs_read' });
  expect(parseSection('fexit.s/vfs_read')).toMatchObject({ kind: 'fexit', target: 'vfs_read' });
  expect(parseSection('kprobe.multi/vfs_*')).toMatchObject({ kind: 'kprobe.multi', target: 'vfs_*' });
  expect(parseSection('kretprobe.multi/vfs_*')).toMatchObject({ kind: 'kretprobe.multi', target: 'vfs_*' });
  expect(parseSection('kprobe.multi')).toMatchObject({ kind: 'kprobe.multi', target: '' }); // attached by hand
  expect(parseSection('uprobe')).toMatchObject({ kind: 'uprobe', target: '' });
  expect(parseSection('kprobe')).toMatchObject({ kind: 'kprobe', target: '' }); // attached by hand
  expect(parseSection('uretprobe//lib/x86_64-linux-gnu/libc.so.6:getpid')).toMatchObject({ kind: 'uretprobe' });
  expect(parseSection('perf_event')).toMatchObject({ kind: 'perf_event', target: '' });
  expect(parseSection('xdp')).toEqual({ kind: 'other', target: '' });
});

test('alternatives share a group: event, function entry, function return', () => {
  const g = (s: string) => fallbackGroup(parseSection(s));
  expect(g('tp_btf/sched_switch')).toBe(g('raw_tp/sched_switch'));
  expect(g('raw_tp/sched_switch')).toBe(g('tracepoint/sched/sched_switch'));
  expect(g('fentry/vfs_read')).toBe(g('kprobe/vfs_read'));
  expect(g('fexit/vfs_read')).toBe(g('kretprobe/vfs_read'));
  expect(g('fentry/vfs_read')).not.toBe(g('fexit/vfs_read'));
  expect(g('kprobe/vfs_read')).not.toBe(g('kprobe/vfs_write'));
  expect(g('uprobe')).toBeUndefined();
});

test('a function renamed across kernel versions: alternative names in one section', () => {
  const s = parseSection('kprobe/__blk_account_io_start|blk_account_io_start');
  expect(targetFunctions(s)).toEqual(['__blk_account_io_start', 'blk_account_io_start']);
  expect(targetFunctions(parseSection('fexit/vfs_read'))).toEqual(['vfs_read']);
  const g = (sec: string) => fallbackGroup(parseSection(sec));
  expect(g('fentry/__blk_account_io_start|blk_account_io_start')).toBe(g('kprobe/__blk_account_io_start|blk_account_io_start'));
});

const format = `name: sys_enter_openat
ID: 700
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:int dfd;	offset:16;	size:8;	signed:0;
	field:const char * filename;	offset:24;	size:8;	signed:0;
	field:char comm[16];	offset:32;	size:16;	signed:0;
	field:__data_loc char[] name;	offset:48;	size:4;	signed:0;
	field:u32 ids[3];	offset:52;	size:12;	signed:0;

print fmt: "dfd: 0x%08lx"`;

test('tracefs format files become C structs with the kernel\'s offsets', () => {
  const fields = parseTracepointFormat(format);
  expect(fields.map(f => f.name)).toEqual(['common_type', 'common_flags', 'common_preempt_count', 'common_pid', '__syscall_nr', 'dfd', 'filename', 'comm', 'name', 'ids']);
  expect(tracepointStruct('syscalls', 'sys_enter_openat', fields)).toBe(`struct tracepoint__syscalls__sys_enter_openat {
\tu8 __pad0[8];
\ts32 __syscall_nr;
\tu8 __pad1[4];
\tu64 dfd;
\tu64 filename;
\tchar comm[16];
\tu32 data_loc_name;
\tu32 ids[3];
};
`);
});
