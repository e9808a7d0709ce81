#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// qdisc-fq: the time packets wait in fq qdiscs (the book's qdisc-fq.bt; lib/cli/qdisc-latency.ts).
import { defineQdiscLatencyTool } from '../../lib/cli/qdisc-latency.js';

defineQdiscLatencyTool({ kind: 'fq', title: 'fq', enqueueFunction: 'fq_enqueue' });
