// lib/stacks' printouts (BCC's multi-line and folded formats, missed and absent stacks) and the
// `stacks` --json record against its validator. Reading real stack maps is covered by the profile and
// offcputime kernel tests.
import { stacksRecord, toJson, validateRecord } from '../../lib/output/index.js';
import { foldedLine, formatStack, stackJson, stackMissed, type SymbolisedStack } from '../../lib/stacks/index.js';

const both: SymbolisedStack = {
  pid: 42, tgid: 42, comm: 'burn', value: 7,
  user: ['hot_loop', 'main', '__libc_start_call_main'],
  kernel: ['asm_sysvec_apic_timer_interrupt'],
};

test('stack ids: -EFAULT is no stack, other negative ids are missed stacks', () => {
  expect([-14, -12, -17, -1, 0, 5].map(stackMissed)).toEqual([false, true, true, true, false, false]);
});

test('multi-line: kernel then user frames, "- comm (pid)", the count; -d puts "--" between', () => {
  expect(formatStack(both)).toBe(
    '    asm_sysvec_apic_timer_interrupt\n    hot_loop\n    main\n    __libc_start_call_main\n' +
    '    -                burn (42)\n        7\n\n');
  expect(formatStack(both, { delimited: true }).split('\n')[1]).toBe('    --');
  expect(formatStack({ ...both, user: null, kernel: undefined })).toBe('    [Missed User Stack]\n    -                burn (42)\n        7\n\n');
});

test('folded: comm, user frames from the root, kernel frames, -a annotates the kernel ones', () => {
  expect(foldedLine(both)).toBe('burn;__libc_start_call_main;main;hot_loop;asm_sysvec_apic_timer_interrupt 7');
  expect(foldedLine(both, { delimited: true, annotations: true })).toBe('burn;__libc_start_call_main;main;hot_loop;-;asm_sysvec_apic_timer_interrupt_[k] 7');
  expect(foldedLine({ ...both, user: [], kernel: null })).toBe('burn;[Missed Kernel Stack] 7');
});

test('stacks records: valid as built; frames, order and value field checked', () => {
  const rec = JSON.parse(toJson(stacksRecord('profile', 2, 'samples', [stackJson(both, 'samples', false), stackJson({ ...both, value: 3, user: null }, 'samples', false)], { missed_stacks: 1 })));
  expect(rec).toMatchObject({ kind: 'stacks', value_field: 'samples', stacks: [{ pid: 42, comm: 'burn', samples: 7, user_stack: both.user }, { samples: 3, user_stack: null }] });
  expect(validateRecord(rec)).toEqual([]);
  const unsorted = { ...rec, stacks: [...rec.stacks].reverse() };
  expect(validateRecord(unsorted)).toEqual(['stacks[1]: not sorted by samples, largest first']);
  const badFrames = { ...rec, stacks: [{ ...rec.stacks[0], kernel_stack: [1] }] };
  expect(validateRecord(badFrames)).toEqual(['stacks[0].kernel_stack: must be an array of frame names, or null for a stack the kernel could not store']);
  expect(validateRecord({ ...rec, stacks: [{ pid: 1, comm: 'x', samples: 1 }] })).toEqual(['stacks[0]: has no stack (user_stack, kernel_stack, waker_kernel_stack...)']);
});
