// TEMPORARY (lead): minimal resolveLibrary until the symbols module lands; replace this file whole.
import fs from 'node:fs';
import path from 'node:path';

export function resolveLibrary(nameOrPath: string, _pid?: number): string {
  if (nameOrPath.includes('/')) {
    if (fs.existsSync(nameOrPath)) return path.resolve(nameOrPath);
    throw new Error(`cannot find library or binary '${nameOrPath}'`);
  }
  for (const dir of ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib']) {
    for (const cand of [`lib${nameOrPath}.so.6`, `lib${nameOrPath}.so`, nameOrPath]) {
      const p = path.join(dir, cand);
      if (fs.existsSync(p)) return p;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, nameOrPath);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`cannot find library or binary '${nameOrPath}'`);
}
