// Argument validation helpers shared by every tool.
import { fastParse, intervalCount, nonNegativeInt, opt, positiveInt, positiveSeconds, UsageError } from '../../lib/cli/index.js';
import { loadSpecs } from '../../lib/cli/catalogue.js';

test('PIDs must be positive integers', () => {
  expect(positiveInt('PID')('42')).toBe(42);
  expect(positiveInt('PID')(undefined)).toBeUndefined();
  for (const bad of ['0', '-1', 'abc', '1.5', '']) expect(() => positiveInt('PID')(bad)).toThrow(UsageError);
  expect(() => positiveInt('PID')('x')).toThrow("invalid PID: 'x' (must be a positive integer)");
});

test('UIDs may be zero', () => {
  expect(nonNegativeInt('UID')('0')).toBe(0);
  expect(() => nonNegativeInt('UID')('-3')).toThrow(UsageError);
});

test('interval and count as BCC: positive, defaulting to forever', () => {
  expect(intervalCount({})).toEqual({ interval: 99999999, count: 99999999 });
  expect(intervalCount({ interval: '1', count: '5' })).toEqual({ interval: 1, count: 5 });
  expect(intervalCount({ interval: '0.5' })).toEqual({ interval: 0.5, count: 99999999 });
  expect(() => intervalCount({ interval: '-1' })).toThrow("invalid interval: '-1' (must be a positive number of seconds)");
  expect(() => intervalCount({ interval: '1', count: '0' })).toThrow("invalid count: '0' (must be a positive integer)");
  expect(() => intervalCount({ interval: '1', count: '2.5' })).toThrow(UsageError);
  expect(() => intervalCount({ interval: 'abc' })).toThrow(UsageError);
});

test('durations: one wording for 0, negative and not a number', () => {
  expect(positiveSeconds('duration')('2.5')).toBe(2.5);
  for (const bad of ['0', '-1', 'x', '']) expect(() => positiveSeconds('duration')(bad)).toThrow(`invalid duration: '${bad}' (must be a positive number of seconds)`);
});

test('a repeated single-value option: the last value is checked and kept', () => {
  expect(positiveInt('PID')(['5', '7'])).toBe(7);
  expect(() => positiveSeconds('duration')(['5', '0'])).toThrow("invalid duration: '0' ");
});

test('PID and TID options refuse tasks that do not exist; a live PID passes', () => {
  const pid = opt.pid().coerce!;
  expect(pid(String(process.pid))).toBe(process.pid);
  expect(() => pid('999999999')).toThrow('no process with PID 999999999');
  expect(() => opt.tid().coerce!('999999999')).toThrow('no thread with TID 999999999');
  expect(opt.pid().meaning).toBe('pid');
});

test('UIDs are numbers or user names', () => {
  const uid = opt.uid().coerce!;
  expect(uid('0')).toBe(0);
  expect(uid('root')).toBe(0);
  expect(() => uid('no-such-user-bpfkit')).toThrow("invalid UID: 'no-such-user-bpfkit' (must be a non-negative integer or a user name)");
});

test('integer positionals alone give every tool what yargs-parser gives it', async () => {
  // `--json=false` changes nothing but sends the same words through yargs-parser
  for (const spec of await loadSpecs()) {
    for (const args of [[], ['1'], ['1', '10'], ['0', '999999999999999']]) {
      expect({ tool: spec.name, args, parsed: fastParse(spec, args) }).toEqual({ tool: spec.name, args, parsed: fastParse(spec, [...args, '--json=false']) });
    }
  }
}, 60_000);
