// Work on many items, a bounded number at a time (compiles one per CPU, koffi's asynchronous calls a few
// dozen): `limit` workers each take the next item until none is left.
export async function eachInParallel<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
