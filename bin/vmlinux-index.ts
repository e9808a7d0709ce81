// Part of `npm run build` and npm pack: the index of bpf-c/include/vmlinux.h that a compile without a
// precompiled header cuts the header with (lib/compile/vmlinux-cut.ts), so that no first compile makes it.
import fs from 'node:fs';
import path from 'node:path';
import { includeDir, shippedIndexDir } from '../lib/compile/index.js';
import { indexName, indexVmlinux, saveIndex } from '../lib/compile/vmlinux-cut.js';

const text = fs.readFileSync(path.join(includeDir, 'vmlinux.h'), 'utf8');
const file = path.join(shippedIndexDir, indexName(text));
fs.rmSync(shippedIndexDir, { recursive: true, force: true }); // an index of an older vmlinux.h
saveIndex(file, indexVmlinux(text));
