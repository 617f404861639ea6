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

/**
 * Work over items that depend on each other (models reading models): an item starts once every item it depends on
 * (among these) has finished, at most `lanes` at once, the earliest ready item in the given order first. After a
 * failure nothing more starts; work already started finishes, then the first failure is thrown. Results come in the
 * given order.
 */
export async function inDependencyOrder<T, R>(
  items: readonly T[],
  options: { lanes: number; keyOf: (item: T) => string; dependsOn: (item: T) => readonly string[] },
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const { keyOf, dependsOn } = options;
  const keys = new Set(items.map(keyOf));
  const finished = new Set<string>();
  const waiting = items.map((item, index) => ({ item, index }));
  const results = new Array<R>(items.length);
  const running = new Set<Promise<void>>();
  const lanes = Math.max(1, Math.floor(options.lanes));
  let failure: { error: unknown } | undefined;
  const ready = ({ item }: { item: T }) =>
    dependsOn(item).every((dep) => !keys.has(dep) || finished.has(dep));
  for (;;) {
    while (!failure && running.size < lanes) {
      const at = waiting.findIndex(ready);
      if (at < 0) break;
      const [{ item, index }] = waiting.splice(at, 1) as [{ item: T; index: number }];
      const task: Promise<void> = work(item)
        .then(
          (result) => {
            results[index] = result;
            finished.add(keyOf(item));
          },
          (error: unknown) => {
            failure ??= { error };
          },
        )
        .finally(() => running.delete(task));
      running.add(task);
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  if (failure) throw failure.error;
  if (waiting.length > 0)
    throw new Error(`inDependencyOrder: a cycle among ${waiting.map(({ item }) => keyOf(item)).join(', ')}`);
  return results;
}
