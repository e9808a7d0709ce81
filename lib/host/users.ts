// User names <-> UIDs from /etc/passwd (BCC's -u accepts either).
import fs from 'node:fs';

let byName: Map<string, number> | undefined;
let byUid: Map<number, string> | undefined;

function load() {
  if (byName) return;
  byName = new Map();
  byUid = new Map();
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (!name || uid === undefined) continue;
      byName.set(name, Number(uid));
      if (!byUid.has(Number(uid))) byUid.set(Number(uid), name);
    }
  } catch { /* no passwd: numbers only */ }
}

/** A UID from a number or a user name; undefined when unknown. */
export function userId(nameOrUid: string): number | undefined {
  if (/^\d+$/.test(nameOrUid)) return Number(nameOrUid);
  load();
  return byName!.get(nameOrUid);
}

export function userName(uid: number): string | undefined {
  load();
  return byUid!.get(uid);
}
