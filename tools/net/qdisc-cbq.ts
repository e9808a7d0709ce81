#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// qdisc-cbq: the time packets wait in CBQ qdiscs (the book's qdisc-cbq.bt; lib/cli/qdisc-latency.ts).
import { defineQdiscLatencyTool } from '../../lib/cli/qdisc-latency.js';

defineQdiscLatencyTool({ kind: 'cbq', title: 'CBQ', enqueueFunction: 'cbq_enqueue', note: 'removed in Linux 6.3' });
