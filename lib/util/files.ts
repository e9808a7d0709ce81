// Writing a file that other processes may be reading: readers see the old file or the new one, whole.
import fs from 'node:fs';
import path from 'node:path';

/** Writes `data` to a temporary file beside `file`, then renames it over `file` (making its directory). */
export function writeAtomic(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** A file's identity for memoisation: changes when the file is replaced or edited. */
export function statKey(p: string): string {
  try {
    const st = fs.statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return `${p}:absent`;
  }
}
