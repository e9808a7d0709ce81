// Kernel function name resolution and glob expansion, on synthetic function lists (no kernel needed).
import {
  expandPattern, firstExistingKernelFunction, globToRegExp, kernelFunctionSource, kprobeBlacklisted, parseAvailableFilterFunctions,
  parseKallsyms, parseKprobeBlacklist, pickKernelFunction, resolveKernelFunction, syscallBase, syscallPrefix,
} from '../../lib/attach/kprobes.js';

const x64 = new Set(['vfs_read', 'vfs_readv', 'vfs_write', 'vfs_fsync_range', '__x64_sys_bpf', '__x64_sys_openat', '__x64_sys_read',
  '__ia32_sys_openat', '__se_sys_openat', '__do_sys_openat', 'finish_task_switch.isra.0', 'tcp_sendmsg', 'tcp_sendmsg_locked',
  'perf_event_open', '__perf_sw_event', 'do_sys_open.cold', '__SCT__tp_func_sys_enter', '_kbl_addr_do_int3',
  'blk_account_io_merge_bio', '__blk_account_io_start']);

describe('syscall names (BCC get_syscall_prefix / fix_syscall_fnname)', () => {
  test('the prefix is the one whose bpf syscall exists', () => {
    expect(syscallPrefix(x64)).toBe('__x64_sys_');
    expect(syscallPrefix(['__arm64_sys_bpf', '__arm64_sys_openat'])).toBe('__arm64_sys_');
    expect(syscallPrefix(['sys_bpf', 'sys_openat'])).toBe('sys_');
    expect(syscallPrefix(['vfs_read'])).toBe('sys_'); // BCC's default
  });

  test('any spelling maps to this kernel\'s wrapper', () => {
    expect(syscallBase('__x64_sys_openat')).toBe('openat');
    expect(syscallBase('__x32_compat_sys_openat')).toBe('openat');
    expect(pickKernelFunction('sys_openat', x64)).toBe('__x64_sys_openat');
    expect(pickKernelFunction('__arm64_sys_read', x64)).toBe('__x64_sys_read');
    expect(pickKernelFunction('openat', x64)).toBe('__x64_sys_openat'); // a bare name that is no function
    expect(pickKernelFunction('openat', x64, { syscall: true })).toBe('__x64_sys_openat');
    expect(pickKernelFunction('vfs_read', x64, { syscall: true })).toBeUndefined();
  });

  test('arm64, old kernels without arch wrappers, and __se_sys_ only', () => {
    const arm = ['__arm64_sys_bpf', '__arm64_sys_openat', 'vfs_read'];
    expect(pickKernelFunction('sys_openat', arm)).toBe('__arm64_sys_openat');
    expect(pickKernelFunction('__x64_sys_openat', arm)).toBe('__arm64_sys_openat');
    const old = ['sys_bpf', 'sys_openat', 'SyS_openat'];
    expect(pickKernelFunction('__x64_sys_openat', old)).toBe('sys_openat');
    expect(pickKernelFunction('openat', ['__se_sys_openat'], { syscall: true })).toBe('__se_sys_openat');
  });
});

describe('compiler clones', () => {
  test('the exact name wins; a clone stands in when the plain name is gone', () => {
    expect(pickKernelFunction('vfs_read', x64)).toBe('vfs_read');
    expect(pickKernelFunction('finish_task_switch', x64)).toBe('finish_task_switch.isra.0');
    expect(pickKernelFunction('finish_task_switch.isra.1', x64)).toBe('finish_task_switch.isra.0');
    expect(pickKernelFunction('vfs_read.isra.0', x64)).toBe('vfs_read');
  });

  test('.cold parts never count; whole-function clones before .part', () => {
    expect(pickKernelFunction('do_sys_open', x64)).toBeUndefined();
    const fns = ['f.part.0', 'f.constprop.0', 'f.isra.1', 'f.isra.0', 'f.cold', 'g.part.0', 'g.constprop.0.isra.0', 'h.llvm.12345'];
    expect(pickKernelFunction('f', fns)).toBe('f.isra.0');
    expect(pickKernelFunction('g', fns)).toBe('g.constprop.0.isra.0');
    expect(pickKernelFunction('h', fns)).toBe('h.llvm.12345');
    expect(pickKernelFunction('f.cold', ['f.isra.0'])).toBe('f.isra.0');
  });

  test('renamed functions: the first alternative that exists', () => {
    expect(firstExistingKernelFunction(['blk_account_io_start', '__blk_account_io_start'], x64)).toBe('__blk_account_io_start');
    expect(firstExistingKernelFunction(['nope_a', 'nope_b'], x64)).toBeUndefined();
  });
});

describe('globs (funccount patterns)', () => {
  test('pattern -> regex', () => {
    expect(globToRegExp('vfs_*').source).toBe('^vfs_.*$');
    expect(globToRegExp('tcp_*send*').test('tcp_sendmsg_locked')).toBe(true);
    expect(globToRegExp('a.b?').test('a.bc')).toBe(true);
    expect(globToRegExp('a.b?').test('axbc')).toBe(false);
    expect(globToRegExp('vfs_[rw]*').test('vfs_write')).toBe(true);
    expect(globToRegExp('vfs_[!rw]*').test('vfs_write')).toBe(false);
    expect(globToRegExp('x(y)+').test('x(y)+')).toBe(true);
  });

  test('expansion excludes BCC\'s blacklist and the kernel\'s, deduplicates and sorts', () => {
    expect(expandPattern('vfs_*', x64)).toEqual(['vfs_fsync_range', 'vfs_read', 'vfs_readv', 'vfs_write']);
    expect(expandPattern('tcp_*send*', x64)).toEqual(['tcp_sendmsg', 'tcp_sendmsg_locked']);
    expect(expandPattern('*perf*', x64)).toEqual([]);
    expect(expandPattern('*', x64).some(n => n.startsWith('__SCT__') || n.startsWith('_kbl_addr_') || n.endsWith('.cold'))).toBe(false);
    expect(expandPattern('vfs_read?', x64)).toEqual(['vfs_readv']);
    expect(expandPattern('vfs_*', ['vfs_write', 'vfs_read', 'vfs_write'], new Set(['vfs_read']))).toEqual(['vfs_write']);
    expect(kprobeBlacklisted('foo.cold.2')).toBe(true);
    expect(kprobeBlacklisted('cold_start')).toBe(false);
  });
});

describe('parsers', () => {
  test('available_filter_functions: module names dropped, repeats kept for the caller to dedupe', () => {
    const text = 'vfs_read\nvfs_write\nstatic_fn\nstatic_fn\nvp_modern_remove [virtio_pci_modern_dev]\n';
    expect(parseAvailableFilterFunctions(text)).toEqual(['vfs_read', 'vfs_write', 'static_fn', 'static_fn', 'vp_modern_remove']);
  });

  test('kallsyms: text symbols only, without __init and irqentry text', () => {
    const text = [
      'ffffffff81000000 T _stext', 'ffffffff81000300 T __irqentry_text_start', 'ffffffff81000310 T asm_exc_nmi',
      'ffffffff81000f70 T __irqentry_text_end', 'ffffffff81001000 t finish_task_switch.isra.0', 'ffffffff81002000 T vfs_read',
      'ffffffff81003000 W weak_fn', 'ffffffff81004000 D some_data', 'ffffffff81e01d32 T _etext', 'ffffffff83044000 D __init_begin',
      'ffffffff83079000 T _sinittext', 'ffffffff83079100 t start_kernel_helper', 'ffffffff830e7c04 T _einittext',
      'ffffffff83306000 R __init_end', 'ffffffffc0000000 t vp_modern_remove\t[virtio_pci_modern_dev]', '',
    ].join('\n');
    expect(parseKallsyms(text)).toEqual(['_stext', 'finish_task_switch.isra.0', 'vfs_read', 'weak_fn', '_etext', 'vp_modern_remove']);
    // zeroed addresses (kptr_restrict) keep the order, so the markers still work
    expect(parseKallsyms(text.replace(/^[0-9a-f]{16}/gm, '0000000000000000'))).toContain('vp_modern_remove');
    // an opening marker without its end skips nothing
    expect(parseKallsyms('0 T __init_begin\n0 T late_fn\n')).toEqual(['__init_begin', 'late_fn']);
  });

  test('kprobes blacklist', () => {
    const text = '0xffffffff81c00990-0xffffffff81c009b0\tasm_exc_divide_error\n0xffffffffc0001000-0xffffffffc0001010\tmod_fn\t[mod]\n';
    expect([...parseKprobeBlacklist(text)]).toEqual(['asm_exc_divide_error', 'mod_fn']);
  });

  test('a 120k-line list (kallsyms-sized) parses and indexes', () => {
    const names = Array.from({ length: 120000 }, (_, i) => (i % 50 === 0 ? `fn_${i}.isra.0` : `fn_${i}`));
    const text = names.map((n, i) => (i % 7 === 0 ? `${n} [mod]` : n)).join('\n');
    const set = new Set(parseAvailableFilterFunctions(text));
    expect(pickKernelFunction('fn_100', set)).toBe('fn_100.isra.0');
    expect(expandPattern('fn_11999*', set)).toEqual(['fn_11999', 'fn_119990', 'fn_119991', 'fn_119992', 'fn_119993', 'fn_119994', 'fn_119995', 'fn_119996', 'fn_119997', 'fn_119998', 'fn_119999']);
  });
});

describe('this machine', () => {
  test('a missing function gives the clear error', () => {
    expect(() => resolveKernelFunction('bpfkit_no_such_function')).toThrow(
      'kernel function bpfkit_no_such_function is not traceable on this kernel (missing, inlined or notrace');
    expect(() => resolveKernelFunction(['bpfkit_a', 'bpfkit_b'])).toThrow('kernel function bpfkit_a or bpfkit_b is not traceable');
  });

  test('the list comes from tracefs or kallsyms, read once', () => {
    const a = kernelFunctionSource();
    expect(kernelFunctionSource()).toBe(a);
    if (a.source !== 'none') {
      expect(a.names.has('vfs_read')).toBe(true);
      expect(resolveKernelFunction('vfs_read')).toBe('vfs_read');
      expect(resolveKernelFunction(['bpfkit_vfs_read_renamed', 'vfs_read'])).toBe('vfs_read');
    }
  });
});
