#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// qdisc-red: the time packets wait in red qdiscs (the book's qdisc-red.bt; lib/cli/qdisc-latency.ts).
import { defineQdiscLatencyTool } from '../../lib/cli/qdisc-latency.js';

defineQdiscLatencyTool({ kind: 'red', title: 'red', enqueueFunction: 'red_enqueue' });
