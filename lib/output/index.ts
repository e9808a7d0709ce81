// bpfkit output: BCC-exact histograms, printf-style columns, time stamps, JSON lines, a buffered
// stdout writer and tables.

export {
  formatLog2Hist,
  formatLinearHist,
  formatLog2Sections,
  formatLinearSections,
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
export { strftimeHMS, strftime, timestampSeconds, monotonicNs, timeZoneAbbreviation } from './time.js';
export { toJson, bigintToJson } from './json.js';
export { OutputWriter, stdoutWriter } from './writer.js';
export type { OutputWriterOptions } from './writer.js';
export { formatTable } from './table.js';
export type { TableOptions } from './table.js';
