// Kernel function name resolution, on synthetic function lists.
import { expandPattern, pickKernelFunction } from '../../lib/attach/kprobes.js';

const fns = new Set(['vfs_read', 'vfs_readv', 'vfs_write', '__x64_sys_openat', '__x64_sys_read', 'finish_task_switch.isra.0',
  'tcp_sendmsg', 'tcp_sendmsg_locked', 'perf_event_open', '__perf_sw_event', 'do_sys_open.cold', 'vfs_fsync_range']);

test('exact names win; syscall names map to this kernel\'s wrappers', () => {
  expect(pickKernelFunction('vfs_read', fns)).toBe('vfs_read');
  expect(pickKernelFunction('openat', fns)).toBe('__x64_sys_openat');
  expect(pickKernelFunction('sys_openat', fns)).toBe('__x64_sys_openat');
  expect(pickKernelFunction('__arm64_sys_read', fns)).toBe('__x64_sys_read');
});

test('compiler clones stand in for renamed functions; missing ones are undefined', () => {
  expect(pickKernelFunction('finish_task_switch', fns)).toBe('finish_task_switch.isra.0');
  expect(pickKernelFunction('do_sys_open', fns)).toBeUndefined(); // only a .cold part
  expect(pickKernelFunction('blk_account_io_start', fns)).toBeUndefined();
});

test('globs expand funccount-style, without blacklisted functions', () => {
  expect(expandPattern('vfs_*', fns)).toEqual(['vfs_fsync_range', 'vfs_read', 'vfs_readv', 'vfs_write']);
  expect(expandPattern('tcp_*send*', fns)).toEqual(['tcp_sendmsg', 'tcp_sendmsg_locked']);
  expect(expandPattern('*perf*', fns)).toEqual([]);
  expect(expandPattern('vfs_read?', fns)).toEqual(['vfs_readv']);
});
