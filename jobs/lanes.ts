/**
 * Work split into lanes: items that share a lane key run one after the other in their given order, and at most
 * `lanes` keys run at once. Load uses it to keep the warehouse's cores busy (one COPY is one server process): each
 * bronze table's batches load in ledger order while another table loads.
 */
export async function inLanes<T, R>(
  items: readonly T[],
  options: { lanes: number; laneOf: (item: T) => string },
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const queues = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = options.laneOf(item);
    const queue = queues.get(key);
    if (queue) queue.push(index);
    else queues.set(key, [index]);
  });
  const waiting = [...queues.values()];
  const results = new Array<R>(items.length);
  let failure: { error: unknown } | undefined;
  const runLane = async () => {
    for (let queue = waiting.shift(); queue && !failure; queue = waiting.shift()) {
      for (const index of queue) {
        if (failure) return;
        try {
          results[index] = await work(items[index] as T);
        } catch (error) {
          // The first failure stops every lane from starting more; work already started finishes first.
          failure ??= { error };
          return;
        }
      }
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(options.lanes), waiting.length));
  await Promise.all(Array.from({ length: lanes }, runLane));
  if (failure) throw failure.error;
  return results;
}
