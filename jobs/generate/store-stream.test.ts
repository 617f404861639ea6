import { describe, expect, it } from 'vitest';
import { generateStoreData } from './store-data.ts';
import { streamStoreData } from './store-stream.ts';
import type { GenerateOptions } from './types.ts';

const asOf = new Date('2024-06-01T00:00:00Z');

/** The streamed store, read whole: what `ecomm generate` writes, in the order it writes it. */
function readStream(options: GenerateOptions) {
  const store = streamStoreData(options);
  const tables = Object.fromEntries(Object.entries(store.tables).map(([name, rows]) => [name, [...rows]]));
  const events = [...store.messages()];
  return { store, tables, events };
}

describe('streamStoreData', () => {
  // Two seeds and a fractional scale: the streamed store must be the in-memory reference byte for byte, so a
  // seed keeps giving the same source rows and messages whichever path wrote them.
  for (const options of [
    { seed: 7, scale: 0.2, asOf },
    { seed: 42, scale: 1, asOf },
  ]) {
    it(`gives generateStoreData's rows, messages and manifest byte for byte (seed ${options.seed})`, () => {
      const reference = generateStoreData(options);
      const { store, tables, events } = readStream(options);
      expect(JSON.stringify(tables)).toBe(JSON.stringify(reference.tables));
      expect(events.length).toBe(reference.events.length);
      expect(JSON.stringify(events)).toBe(JSON.stringify(reference.events));
      expect(JSON.stringify(store.anomalies)).toBe(JSON.stringify(reference.anomalies));
      expect(store.anomalyCount).toBe(reference.anomalies.length);
      const perTopic = (topic: string) => reference.events.filter((event) => event.topic === topic).length;
      expect(store.counts).toEqual({
        customers: reference.tables.customers.length,
        products: reference.tables.products.length,
        orders: reference.tables.orders.length,
        order_items: reference.tables.order_items.length,
        fx_rates: reference.tables.fx_rates.length,
        clickstream: perTopic('clickstream'),
        'order-events': perTopic('order-events'),
      });
      const oldest = Math.min(...reference.events.map((event) => event.timestamp));
      expect(store.oldestMessageMs).toBe(oldest);
    });
  }

  it('replays its tables on every read, and refuses a second read of the messages', () => {
    const store = streamStoreData({ seed: 5, scale: 0.1, asOf });
    expect(JSON.stringify([...store.tables.orders])).toBe(JSON.stringify([...store.tables.orders]));
    [...store.messages()];
    expect(() => [...store.messages()]).toThrow(/read only once/);
  });

  it('keeps no manifest when asked not to, but still counts it', () => {
    const store = streamStoreData({ seed: 5, scale: 0.1, asOf }, { manifest: false });
    [...store.messages()];
    expect(store.anomalies).toEqual([]);
    expect(store.anomalyCount).toBe(generateStoreData({ seed: 5, scale: 0.1, asOf }).anomalies.length);
  });
});
