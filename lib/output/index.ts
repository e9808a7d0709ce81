// bpfkit output: BCC-exact histograms, printf-style columns, time stamps, JSON records (records.ts:
// the --json format of docs/json.md), a buffered stdout writer and tables.

export {
  formatLog2Hist,
  formatLinearHist,
  formatLog2Sections,
  formatLinearSections,
  formatBpftraceLinear,
  formatBpftraceLog2,
  bpftraceLog2SectionsJson,
  bpftraceLog2ToBcc,
  bpftraceKey,
  log2HistJson,
  linearHistJson,
  log2Slot,
  log2SlotRange,
  log2Add,
  histStats,
  stars,
  STARS_MAX,
  LOG2_SLOTS,
} from './hist.js';
export type { Count, Slots, HistOptions, HistSection, HistBucket, HistJson, HistStats } from './hist.js';
export { sprintf, formatFixed } from './format.js';
export { strftimeHMS, timeColumns, strftime, timestampSeconds, monotonicNs, timeZoneAbbreviation } from './time.js';
export { toJson, bigintToJson } from './json.js';
export { OutputWriter, stdoutWriter } from './writer.js';
export type { OutputWriterOptions } from './writer.js';
export { formatTable } from './table.js';
export type { TableOptions } from './table.js';
export { parseFolded, renderFlameGraph, frameKind } from './flamegraph.js';
export type { FlameGraphOptions, FrameKind } from './flamegraph.js';
export {
  OUTPUT_KINDS, eventRecord, histogramRecord, countsRecord, topRecord, stacksRecord, recordEmitter, validateRecord, ownFields,
} from './records.js';
export type { OutputKind, Fields, HistSectionsJson, RecordEmitter } from './records.js';
export { CLEAR_SCREEN, loadavgText, loadavgValues, topRows, writeTopScreen } from './top.js';
export type { TopScreenOptions } from './top.js';
export { printCountMap } from './count-map.js';
export type { CountMapPrint } from './count-map.js';
