// The README's library example, kept runnable: `sudo bin/bpfkit-node examples/readme-histogram.ts`.
import { BPF } from 'bpfkit';

const bpf = BPF.load({ text: `
#include <bpfkit.h>
BPF_HISTOGRAM(dist);
BPF_HASH(start, u64, u64);
TRACEPOINT_PROBE(block, block_rq_issue) {
	u64 key = ((u64)args->dev << 32) | args->sector, ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
	return 0;
}
TRACEPOINT_PROBE(block, block_rq_complete) {
	u64 key = ((u64)args->dev << 32) | args->sector, *tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp) return 0;
	map_increment(dist, bpf_log2l((bpf_ktime_get_ns() - *tsp) / 1000));
	bpf_map_delete_elem(&start, &key);
	return 0;
}` });
bpf.attachAll();
setTimeout(() => { process.stdout.write(bpf.histogram('dist').format('usecs')); bpf.close(); }, 5000);
