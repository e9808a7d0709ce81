#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// bioerr: block I/O requests that completed with an error, one line each. Port of the BPF
// Performance Tools book's bioerr.bt (chapter 9), in its format, with -d DISK added.
//
// Probe: the block:block_rq_complete tracepoint, whose `error` field is the request's status as a
// negative errno (-5 EIO, -28 ENOSPC, -110 ETIMEDOUT...), and which carries the dev, sector and
// rwbs flags as the book prints them. The tracepoint's sector of a request with no data is all ones:
// printed signed (-1), as bpftrace's %d does.
import { defineTool, diskRodata, opt } from '../../lib/cli/index.js';
import { devMajor, devMinor, diskName } from '../../lib/host/disks.js';
import { errnoName } from '../../lib/host/errno.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile bool filter_dev = false; /* -d DISK */
const volatile u32 targ_dev = 0;

struct bio_error {
	u64 ts;
	u64 sector;
	u32 dev;
	u32 nr_sector;
	s32 error;
	char rwbs[8];
};

BPF_RINGBUF_OUTPUT(events, 16);
BPFKIT_EXPORT_TYPE(struct bio_error);

TRACEPOINT_PROBE(block, block_rq_complete)
{
	if (args->error == 0)
		return 0;
	if (filter_dev && args->dev != targ_dev)
		return 0;
	struct bio_error *e = ringbuf_reserve(events, struct bio_error);
	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->dev = args->dev;
	e->sector = args->sector;
	e->nr_sector = args->nr_sector;
	e->error = args->error;
	__builtin_memcpy(e->rwbs, args->rwbs, sizeof(e->rwbs));
	ringbuf_submit(events, e);
	return 0;
}
`;

interface Options { disk?: string }
interface BioError { ts: bigint; sector: bigint; dev: number; nr_sector: number; error: number; rwbs: string }

defineTool<Options>({
  name: 'bioerr',
  subsystem: 'disk',
  description: 'Trace block I/O errors',
  ports: { book: 'originals/Ch09_Disks/bioerr.bt' },
  probes: { tracepoint: ['block/block_rq_complete'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c', quiet: 'a healthy machine has no I/O errors (bioerr.test.ts makes some)' }],
  records: () => ({ fields: ['ts_ns', 'disk', 'major', 'minor', 'sector', 'bytes', 'rwbs', 'error', 'errno'] }),
  program,
  options: { disk: opt.disk() },
  examples: [
    ['bioerr', 'trace block I/O errors on every disk'],
    ['bioerr -d vda', 'trace errors of vda only'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: diskRodata(opts.disk) });
    bpf.attachAll();
    banner('Tracing block I/O errors. Hit Ctrl-C to end.');
    const stream = bpf.events<BioError>('events', 'bio_error', e => {
      // sector: a u64 that is all ones for requests without data; the book prints it with %d
      const sector = BigInt.asIntN(64, BigInt(e.sector));
      if (json) {
        emit.event({
          disk: diskName(e.dev, '') || null, major: devMajor(e.dev), minor: devMinor(e.dev), sector: sector < 0n ? null : sector,
          bytes: e.nr_sector * 512, rwbs: e.rwbs, error: e.error, errno: errnoName(-e.error) ?? null,
        }, { tsNs: e.ts });
        return;
      }
      out.line(sprintf('%s device: %d,%d, sector: %s, bytes: %d, flags: %s, error: %d',
        strftimeHMS(), devMajor(e.dev), devMinor(e.dev), sector.toString(), e.nr_sector * 512, e.rwbs, e.error));
    });
    await untilExit();
    stream.drain(); // errors just before Ctrl-C
  },
});
