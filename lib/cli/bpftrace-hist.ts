// The interval print of the book's tools that keep one bpftrace hist() (skblife, the qdisc-* tools):
// each interval the map is read and emptied, then printed as bpftrace does ("@name: " and its rows;
// nothing for an empty map), after a blank line and, with -T, the time; --json: a histogram record.
import type { Histogram } from '../maps/histogram.js';
import { bpftraceLog2ToBcc, formatBpftraceLog2, log2HistJson, strftimeHMS, type OutputWriter, type RecordEmitter } from '../output/index.js';

export function bpftraceLog2Tick(hist: Histogram, mapName: string, valType: string,
  ctx: { out: OutputWriter; json: boolean; emit: RecordEmitter; timestamp: boolean }): () => void {
  return () => {
    const { slots } = hist.read(true);
    if (ctx.json) {
      ctx.emit.histogram(log2HistJson(bpftraceLog2ToBcc(slots), valType));
      return;
    }
    ctx.out.line('');
    if (ctx.timestamp) ctx.out.line(strftimeHMS());
    if (slots.some(n => n > 0)) ctx.out.write(formatBpftraceLog2(slots, mapName));
  };
}
