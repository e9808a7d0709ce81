// shmsnoop on the real kernel: a program calls shmget, shmat, shmdt and shmctl once each, and one
// shmdt of an address nothing is attached at: exactly those five calls are shown, in order, with
// their arguments and the results the program got (it writes them down).
import fs from 'node:fs';
import path from 'node:path';
import { validateRecord } from '../../lib/output/index.js';
import { expectRefusedUnprivileged, expectUsageErrors, heldProgram, tmpDir, traceHeld, startTool, untilAttached } from './helpers.js';

const dir = tmpDir('bpfkit-shmsnoop-');
const results = path.join(dir, 'results');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const FUNCTIONS = `#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>`;
const BODY = `int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	void *at = shmat(id, 0, SHM_RDONLY);
	int dt = shmdt(at);
	int bad = shmdt((void *)4096);
	int ctl = shmctl(id, IPC_RMID, 0);
	FILE *f = fopen("${results}", "w");
	fprintf(f, "%d %lx %d %d %d\\n", id, (unsigned long)at, dt, bad, ctl);
	fclose(f);`;

test('each call once, with its arguments and its result', async () => {
  const program = heldProgram(path.join(dir, 'shmuser'), FUNCTIONS, BODY);
  await program.started();
  const json = startTool('shmsnoop', ['--json', '-p', String(program.pid)]);
  await untilAttached([json]);
  const { tool, code } = await traceHeld('shmsnoop', ['-T', '-p', String(program.pid)], program, [json]);
  expect(code).toBe(0);
  expect(await json.stop()).toBe(0);
  const [id, at, dt, bad, ctl] = fs.readFileSync(results, 'utf8').trim().split(' ');
  expect([dt, bad, ctl]).toEqual(['0', '-1', '0']); // the bad shmdt: EINVAL
  const lines = tool.stdout().trim().split('\n');
  expect(lines[0]).toBe('TIME(s)       PID    COMM                SYS              RET ARGs');
  const rows = lines.slice(1).map(l => l.slice(14).replace(/ +/g, ' '));
  const pid = program.pid;
  const idHex = Number(id).toString(16);
  expect(rows).toEqual([
    `${pid} shmuser SHMGET ${idHex} key: 0x0, size: 8192, shmflg: 0x380 (IPC_CREAT|0600)`,
    `${pid} shmuser SHMAT ${at} shmid: 0x${idHex}, shmaddr: 0x0, shmflg: 0x1000 (SHM_RDONLY)`,
    `${pid} shmuser SHMDT 0 shmaddr: 0x${at}`,
    `${pid} shmuser SHMDT -16 shmaddr: 0x1000`,
    `${pid} shmuser SHMCTL 0 shmid: 0x${idHex}, cmd: 0 (IPC_RMID), buf: 0x0`,
  ]);
  expect(lines[1]).toMatch(/^0\.000000000 {3}/);
  const records = json.stdout().trim().split('\n').map(l => JSON.parse(l));
  for (const r of records) expect(validateRecord(r)).toEqual([]);
  expect(records.map(r => [r.sys, r.ret])).toEqual([['shmget', Number(id)], ['shmat', parseInt(at, 16)], ['shmdt', 0], ['shmdt', -22], ['shmctl', 0]]);
  expect(records[0]).toMatchObject({ pid, tid: pid, comm: 'shmuser', key: 0, size: 8192, shmflg: 0o1600 });
}, 60_000);

test('bad input: one line, exit 2', () => {
  expectUsageErrors('shmsnoop', [['-p', 'x'], ['-p', '999999999'], ['-t', '999999999'], ['-d', '0'], ['-p', '1', '-t', '1'], ['extra']]);
});

test('refused without privileges', () => {
  expectRefusedUnprivileged('shmsnoop');
});
