#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// qdisc-cbs: the time packets wait in cbs qdiscs (the book's qdisc-cbs.bt; lib/cli/qdisc-latency.ts).
import { defineQdiscLatencyTool } from '../../lib/cli/qdisc-latency.js';

defineQdiscLatencyTool({ kind: 'cbs', title: 'cbs', enqueueFunction: 'cbs_enqueue' });
