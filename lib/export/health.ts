// The exporter's own metrics, in one table: renderMetrics (index.ts) prints them after the configured
// ones, and loadConfig (config.ts) refuses a configured metric that takes one of their names.

/** What a supervised tool reports about itself. */
export interface ToolHealth {
  labels: Record<string, string>;
  up: boolean;
  restarts: number;
  lost: number;
  bpfStats(): { runTimeNs: number; runs: number; missed: number };
}

interface HealthMetric { name: string; type: 'gauge' | 'counter'; help: string; value(t: ToolHealth): number }

/** One series per tool, labelled as the tool's own metrics are. */
export const toolHealthMetrics: HealthMetric[] = [
  { name: 'bpfkit_tool_up', type: 'gauge', help: 'Whether the tool is running (1) or down and being restarted (0)', value: t => (t.up ? 1 : 0) },
  { name: 'bpfkit_tool_restarts_total', type: 'counter', help: 'Times the tool was restarted after it exited', value: t => t.restarts },
  { name: 'bpfkit_tool_lost_events_total', type: 'counter', help: 'Events the tool reported lost (ring or perf buffer full)', value: t => t.lost },
  { name: 'bpfkit_tool_bpf_run_seconds_total', type: 'counter', help: 'Time the tool\'s BPF programs ran (counted while kernel.bpf_stats_enabled=1)', value: t => t.bpfStats().runTimeNs / 1e9 },
  { name: 'bpfkit_tool_bpf_runs_total', type: 'counter', help: 'Runs of the tool\'s BPF programs (counted while kernel.bpf_stats_enabled=1)', value: t => t.bpfStats().runs },
  { name: 'bpfkit_tool_bpf_missed_total', type: 'counter', help: 'Events the tool\'s BPF programs missed: already running on that CPU (recursion_misses)', value: t => t.bpfStats().missed },
];

/** One series per configured metric (label `metric`). */
export const seriesDroppedMetric = {
  name: 'bpfkit_export_series_dropped_total', type: 'counter',
  help: 'Label sets not kept because the metric had max_series of them',
} as const;

/** Every name above: configured metrics may not take them. */
export const healthMetricNames: string[] = [...toolHealthMetrics.map(m => m.name), seriesDroppedMetric.name];
