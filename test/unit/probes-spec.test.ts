// BCC's probe specifications: every form, wildcards, -r regexes, and errors that quote the bad part.
import { formatProbeSpec, nameMatcher, parseProbeSpec, ProbeSpecError } from '../../lib/probes/index.js';

const parse = (text: string, regex = false) => {
  const s = parseProbeSpec(text, { regex });
  return { type: s.type, library: s.library, category: s.category, provider: s.provider, name: s.name, offset: s.offset, wildcard: s.wildcard };
};

describe('the forms BCC reads', () => {
  test('kernel functions: func, p::func, r::func, :func, an offset', () => {
    expect(parse('vfs_read')).toEqual({ type: 'kprobe', library: '', name: 'vfs_read', wildcard: false });
    expect(parse('p::vfs_read')).toMatchObject({ type: 'kprobe', library: '', name: 'vfs_read' });
    expect(parse(':vfs_read')).toMatchObject({ type: 'kprobe', library: '', name: 'vfs_read' });
    expect(parse('r::vfs_read')).toMatchObject({ type: 'kretprobe', library: '', name: 'vfs_read' });
    expect(parse('p::do_sys_openat2+0x10')).toMatchObject({ type: 'kprobe', name: 'do_sys_openat2', offset: 16 });
    expect(parse('finish_task_switch.isra.0')).toMatchObject({ type: 'kprobe', name: 'finish_task_switch.isra.0' });
  });

  test('tracepoints: t:category:event', () => {
    expect(parse('t:sched:sched_switch')).toEqual({ type: 'tracepoint', library: '', category: 'sched', name: 'sched_switch', wildcard: false });
    expect(parse('t:syscalls:sys_enter_*')).toMatchObject({ type: 'tracepoint', category: 'syscalls', name: 'sys_enter_*', wildcard: true });
    expect(parse('t:*:sched_*')).toMatchObject({ category: '*', name: 'sched_*', wildcard: true });
  });

  test('user functions: lib:func, p:lib:func, c:func, r:lib:func, paths', () => {
    expect(parse('c:malloc')).toEqual({ type: 'uprobe', library: 'c', name: 'malloc', wildcard: false });
    expect(parse('p:c:malloc')).toMatchObject({ type: 'uprobe', library: 'c', name: 'malloc' });
    expect(parse('p:libc.so.6:free')).toMatchObject({ type: 'uprobe', library: 'libc.so.6', name: 'free' });
    expect(parse('r:c:malloc')).toMatchObject({ type: 'uretprobe', library: 'c', name: 'malloc' });
    expect(parse('bash:readline')).toMatchObject({ type: 'uprobe', library: 'bash', name: 'readline' });
    expect(parse('/tmp/x/bin:func*')).toMatchObject({ type: 'uprobe', library: '/tmp/x/bin', name: 'func*', wildcard: true });
    expect(parse('c:str*')).toMatchObject({ type: 'uprobe', library: 'c', name: 'str*', wildcard: true });
    expect(parse('p:pthread:pthread_mutex_lock')).toMatchObject({ type: 'uprobe', library: 'pthread' });
  });

  test('USDT: u:lib:probe and u:lib:provider:probe', () => {
    expect(parse('u:/usr/bin/python3.11:function__entry')).toEqual({ type: 'usdt', library: '/usr/bin/python3.11', name: 'function__entry', wildcard: false });
    expect(parse('u:/usr/bin/python3.11:function__*')).toMatchObject({ type: 'usdt', name: 'function__*', wildcard: true });
    expect(parse('u:python3.11:python:gc__start')).toMatchObject({ type: 'usdt', library: 'python3.11', provider: 'python', name: 'gc__start' });
    expect(parse('u::function__entry')).toMatchObject({ type: 'usdt', library: '', name: 'function__entry' });
  });

  test('-r: names are regexes, matched from the start (re.match)', () => {
    expect(parse('vfs_(read|write)', true)).toMatchObject({ type: 'kprobe', name: 'vfs_(read|write)', wildcard: true });
    expect(parse('t:syscalls:sys_enter_(read|write)$', true)).toMatchObject({ type: 'tracepoint', wildcard: true });
    const m = nameMatcher('vfs_re', true);
    expect([m('vfs_read'), m('vfs_readv'), m('xvfs_read')]).toEqual([true, true, false]);
    expect(nameMatcher('vfs_read$', true)('vfs_readv')).toBe(false);
  });

  test('globs are anchored at both ends, like BCC\'s ^...$', () => {
    const m = nameMatcher('vfs_*', false);
    expect([m('vfs_read'), m('vfs_'), m('xvfs_read'), m('vfs')]).toEqual([true, true, false, false]);
    expect(nameMatcher('sys_enter_?ead', false)('sys_enter_read')).toBe(true);
    expect(nameMatcher('vfs_read', false)('vfs_readv')).toBe(false);
    expect(nameMatcher('sys_enter_[rw]*', false)('sys_enter_write')).toBe(true);
  });

  test('canonical form', () => {
    for (const [text, canon] of [['vfs_read', 'p::vfs_read'], ['c:malloc', 'p:c:malloc'], ['t:sched:sched_switch', 't:sched:sched_switch'],
      ['r:c:malloc', 'r:c:malloc'], ['u:lib:p:n', 'u:lib:p:n'], ['p::f+16', 'p::f+0x10']]) {
      expect(formatProbeSpec(parseProbeSpec(text!))).toBe(canon);
    }
  });

  test('which types a tool takes', () => {
    expect(() => parseProbeSpec('r::vfs_read', { allow: ['kprobe', 'tracepoint', 'uprobe', 'usdt'] }))
      .toThrow("cannot parse 'r::vfs_read': kernel function return probes are not supported here (only kernel function, tracepoint, user function, USDT)");
    expect(parseProbeSpec('vfs_read', { allow: ['kprobe'] }).type).toBe('kprobe');
  });
});

describe('errors quote the specification and the bad part', () => {
  const error = (text: string, regex = false) => {
    try {
      parseProbeSpec(text, { regex });
    } catch (e) {
      expect(e).toBeInstanceOf(ProbeSpecError);
      return (e as Error).message;
    }
    throw new Error(`'${text}' parsed`);
  };

  test.each([
    ['', "cannot parse '': empty probe specification"],
    ['x:lib:func', `cannot parse 'x:lib:func' at "x": probe type must be p, r, t or u, not 'x'`],
    ['t:sched_switch', "cannot parse 't:sched_switch': a tracepoint is t:category:event"],
    ['t:sched:sched_switch:x', `cannot parse 't:sched:sched_switch:x' at "x": a tracepoint is t:category:event`],
    ['t::sched_switch', "cannot parse 't::sched_switch': no tracepoint category"],
    ['t:sched:', "cannot parse 't:sched:': no tracepoint event"],
    ['u:python', "cannot parse 'u:python': a USDT probe is u:library:probe"],
    ['u:lib:', "cannot parse 'u:lib:': no USDT probe name"],
    ['u:a:b:c:d', `cannot parse 'u:a:b:c:d' at "d": a USDT probe is u:library:probe or u:library:provider:probe`],
    ['p:vfs_read', "cannot parse 'p:vfs_read': a kernel function is p::vfs_read, a user function p:library:vfs_read"],
    ['p:c:', "cannot parse 'p:c:': no function name"],
    ['p::', "cannot parse 'p::': no function name"],
    ['p:c:malloc:x', `cannot parse 'p:c:malloc:x' at "x": too many ':'-separated parts (p:library:function)`],
    ['vfs read', `cannot parse 'vfs read' at " read": unexpected ' ' in the function name`],
    ['c:mal(loc', `cannot parse 'c:mal(loc' at "(loc": unexpected '(' in the function name`],
    ['c:malloc+4', `cannot parse 'c:malloc+4' at "+4": an offset is only for kernel function entries (p::func+0x10)`],
    ['vfs_*+4', `cannot parse 'vfs_*+4': an offset needs one function, not a pattern`],
  ])('%s', (text, message) => {
    expect(error(text)).toBe(message);
  });

  test('a bad regex', () => {
    expect(error('vfs_(read', true)).toBe("cannot parse 'vfs_(read': invalid regular expression (Unterminated group)");
  });
});
