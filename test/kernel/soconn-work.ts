// What the soconn tools' tests share: the socket calls fixture (test/fixtures/soconn-peer.py) run under a
// process name of the test's own, so a histogram's section for it holds that test's calls only (other
// Python processes on the machine make theirs).
import fs from 'node:fs';
import path from 'node:path';
import { histogramRows, root, tmpDir } from './helpers.js';

export const peerScript = path.join(root, 'test', 'fixtures', 'soconn-peer.py');

const links = new Set<string>();
process.on('exit', () => {
  for (const dir of links) fs.rmSync(dir, { recursive: true, force: true });
});

/** The fixture's command line under process name `comm` (a link to python3: comm is the file's name). */
export function namedPeer(comm: string, ...args: string[]): string[] {
  const dir = tmpDir('bpfkit-soconn-');
  links.add(dir);
  const link = path.join(dir, comm);
  fs.symlinkSync(fs.realpathSync('/usr/bin/python3'), link);
  return [link, peerScript, ...args];
}

/** The non-empty rows of the histogram section "<header> = <key>" of a tool's text output. */
export function sectionRows(text: string, header: string, key: string): [string, number][] {
  const start = text.indexOf(`\n${header} = ${key}\n`);
  if (start < 0) return [];
  const rest = text.slice(start + 1);
  const next = rest.indexOf(`\n${header} = `, 1);
  return histogramRows(next < 0 ? rest : rest.slice(0, next));
}

/** The log2 bucket ("low-high", as histogramRows gives) that a value falls in. */
export function bucketOf(value: number): string {
  if (value <= 1) return '0-1';
  const low = 2 ** Math.floor(Math.log2(value));
  return `${low}-${low * 2 - 1}`;
}

/** The JSON records a tool printed so far: complete lines only (the last may still be being written). */
export function jsonRecords(stdout: string): any[] {
  return stdout.split('\n').slice(0, -1).filter(l => l.startsWith('{')).map(l => JSON.parse(l));
}
