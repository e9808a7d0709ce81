// Argument validation helpers shared by every tool.
import { intervalCount, nonNegativeInt, positiveInt, UsageError } from '../../lib/cli/index.js';

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
  expect(() => intervalCount({ interval: '-1' })).toThrow("invalid interval: '-1' (must be a positive number)");
  expect(() => intervalCount({ interval: '1', count: '0' })).toThrow(UsageError);
  expect(() => intervalCount({ interval: 'abc' })).toThrow(UsageError);
});
