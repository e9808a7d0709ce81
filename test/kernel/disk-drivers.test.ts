// mdflush, scsilatency, scsiresult and nvmelatency on a kernel without md, SCSI or NVMe (this VM:
// virtio-blk, no md): each stops with exactly one line naming the missing driver (exit 1), and
// `bpfkit list` says why it does not run here; bad input is still a usage error (exit 2). Their
// programs compile (setup's precompile builds them); mdflush's substitute, which needs no kprobes,
// loads and attaches here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expectUsageErrors, root, runTool, withToolSpec } from './helpers.js';

const missing: Record<string, RegExp> = {
  mdflush: /^mdflush: this kernel has no md \(software RAID\) driver \(no md_flush_request\(\), no \/proc\/mdstat\)\n$/,
  scsilatency: /^scsilatency: this kernel has no SCSI driver \(no scsi:scsi_dispatch_cmd_start tracepoint\)\n$/,
  scsiresult: /^scsiresult: this kernel has no SCSI driver \(no scsi:scsi_dispatch_cmd_done tracepoint\)\n$/,
  nvmelatency: /^nvmelatency: this kernel has no NVMe driver \(no nvme:nvme_setup_cmd tracepoint\)\n$/,
};

const hasDriver = fs.existsSync('/proc/mdstat') || fs.existsSync('/sys/kernel/tracing/events/scsi') || fs.existsSync('/sys/kernel/tracing/events/nvme');

(hasDriver ? describe.skip : describe)('disk tools whose driver this kernel lacks', () => {
  test.each(Object.keys(missing))('%s: one line naming the missing driver, exit 1', tool => {
    const r = runTool(tool, []);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(missing[tool]!) });
  });

  test('bpfkit list says why they do not run here', () => {
    const r = spawnSync(path.join(root, 'bin', 'bpfkit'), ['list', 'disk'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const tool of Object.keys(missing)) {
      expect(r.stdout).toMatch(new RegExp(`^disk +${tool} .* no: this kernel has no (md|SCSI|NVMe)`, 'm'));
    }
  });

  test('bad input is still a usage error', () => {
    expectUsageErrors('mdflush', [['-p', '999999999'], ['extra']]);
    expectUsageErrors('scsilatency', [['0'], ['1', 'x']]);
    expectUsageErrors('scsiresult', [['0']]);
    expectUsageErrors('nvmelatency', [['-d', 'nosuchdisk']]);
  });

  test('mdflush\'s substitute (block_bio_queue flushes to md devices) loads and attaches without kprobes', () => {
    const r = withToolSpec('mdflush', `
      const bpf = BPF.load({ text: spec.program, name: 'mdflush', substitutes: spec.substitutes });
      bpf.attachAll();
      const sections = [...bpf.programs.values()].filter(p => p.loaded).map(p => p.section);
      console.log(JSON.stringify({ sections, says: bpf.substituted?.says }));
      bpf.close();
    `);
    expect(r).toEqual({ sections: ['tracepoint/block/block_bio_queue'], says: 'flushes seen at block_bio_queue' });
  });
});
