// errno names by number (EIO, ENOSPC, ...), from Node's table of this platform's values.
import os from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(os.constants.errno)) if (!names.has(value)) names.set(value, name);

/** The errno's name (5 -> "EIO"), or undefined for a number with none. */
export function errnoName(errno: number): string | undefined {
  return names.get(errno);
}
