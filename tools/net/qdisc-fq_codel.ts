#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// qdisc-fq_codel: the time packets wait in fq_codel qdiscs (the book's qdisc-fq_codel.bt; lib/cli/qdisc-latency.ts).
import { defineQdiscLatencyTool } from '../../lib/cli/qdisc-latency.js';

defineQdiscLatencyTool({ kind: 'fq_codel', title: 'fq_codel', enqueueFunction: 'fq_codel_enqueue' });
