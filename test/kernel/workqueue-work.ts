// Known kernel work for the workqueue tools: each write to /proc/sys/vm/stat_refresh runs
// refresh_vm_stats once on every online CPU (schedule_on_each_cpu: on the "events" workqueue) and
// returns when all have run, so N writes are exactly N x CPUs work items of that function.
import fs from 'node:fs';
import os from 'node:os';

export const REFRESH_FUNCTION = 'refresh_vm_stats';
export const REFRESH_WORKQUEUE = 'events';

/** Writes stat_refresh n times; the number of refresh_vm_stats work items that ran. */
export function refreshVmStats(n: number): number {
  for (let i = 0; i < n; i++) fs.writeFileSync('/proc/sys/vm/stat_refresh', '1\n');
  return n * os.cpus().length;
}
