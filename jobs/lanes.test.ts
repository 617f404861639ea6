import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { inDependencyOrder, inLanes } from './lanes.ts';

/** Work that records when each item starts and ends, taking `ms[item]` milliseconds. */
function recorder(ms: Record<string, number>) {
  const events: string[] = [];
  let running = 0;
  let most = 0;
  const work = async (item: string) => {
    running += 1;
    most = Math.max(most, running);
    events.push(`start ${item}`);
    await sleep(ms[item] ?? 1);
    events.push(`end ${item}`);
    running -= 1;
    return item.toUpperCase();
  };
  return { events, work, most: () => most };
}

const laneOf = (item: string) => item.slice(0, 1);

describe('inLanes', () => {
  it('runs a lane in its order, two lanes at once, and gives the results in the input order', async () => {
    const { events, work, most } = recorder({ a1: 30, b1: 5, a2: 5, b2: 5, c1: 5 });
    const results = await inLanes(['a1', 'b1', 'a2', 'c1', 'b2'], { lanes: 2, laneOf }, work);
    expect(results).toEqual(['A1', 'B1', 'A2', 'C1', 'B2']);
    expect(most()).toBe(2);
    // Lane a keeps its order: a2 starts only after a1 ended.
    expect(events.indexOf('start a2')).toBeGreaterThan(events.indexOf('end a1'));
    expect(events.indexOf('start b2')).toBeGreaterThan(events.indexOf('end b1'));
    // b (shorter) finished and c started while a1 still ran.
    expect(events.indexOf('start c1')).toBeLessThan(events.indexOf('end a1'));
  });

  it('with one lane runs everything one after the other, in the input order of the lanes', async () => {
    const { events, work, most } = recorder({});
    await inLanes(['a1', 'b1', 'a2'], { lanes: 1, laneOf }, work);
    expect(most()).toBe(1);
    expect(events.filter((event) => event.startsWith('start'))).toEqual(['start a1', 'start a2', 'start b1']);
  });

  it('after a failure starts nothing more, lets started work finish, then throws the failure', async () => {
    const { events, work } = recorder({ b1: 40 });
    const failing = async (item: string) => {
      if (item === 'a1') {
        await sleep(5);
        throw new Error('a1 failed');
      }
      return work(item);
    };
    await expect(inLanes(['a1', 'b1', 'a2', 'c1'], { lanes: 2, laneOf }, failing)).rejects.toThrow(
      'a1 failed',
    );
    expect(events).toEqual(['start b1', 'end b1']);
  });

  it('takes an empty list and more lanes than keys', async () => {
    expect(await inLanes([], { lanes: 4, laneOf }, async () => 1)).toEqual([]);
    expect(await inLanes(['a1', 'a2'], { lanes: 8, laneOf }, async (item) => item)).toEqual(['a1', 'a2']);
  });
});

describe('inDependencyOrder', () => {
  // c reads a and b; d reads c; e reads nothing here (x is not among the items).
  const dependsOn = (item: string) => ({ c: ['a', 'b'], d: ['c'], e: ['x'] })[item] ?? [];
  const keyOf = (item: string) => item;

  it('starts an item once what it reads has finished, two at once, results in the given order', async () => {
    const { events, work, most } = recorder({ a: 30, b: 5, c: 5, d: 5, e: 5 });
    const results = await inDependencyOrder(['a', 'b', 'c', 'd', 'e'], { lanes: 2, keyOf, dependsOn }, work);
    expect(results).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(most()).toBe(2);
    expect(events.indexOf('start c')).toBeGreaterThan(events.indexOf('end a'));
    expect(events.indexOf('start c')).toBeGreaterThan(events.indexOf('end b'));
    expect(events.indexOf('start d')).toBeGreaterThan(events.indexOf('end c'));
    // e reads nothing among the items: it ran beside a, not after c.
    expect(events.indexOf('start e')).toBeLessThan(events.indexOf('end a'));
  });

  it('with one lane runs the items one after the other in the given (dependency) order', async () => {
    const { events, work, most } = recorder({});
    await inDependencyOrder(['a', 'b', 'c', 'd', 'e'], { lanes: 1, keyOf, dependsOn }, work);
    expect(most()).toBe(1);
    expect(events.filter((event) => event.startsWith('start'))).toEqual([
      'start a',
      'start b',
      'start c',
      'start d',
      'start e',
    ]);
  });

  it('after a failure starts nothing more, lets started work finish, then throws it', async () => {
    const { events, work } = recorder({ b: 40 });
    const failing = async (item: string) => {
      if (item === 'a') throw new Error('a failed');
      return work(item);
    };
    await expect(
      inDependencyOrder(['a', 'b', 'c', 'd', 'e'], { lanes: 2, keyOf, dependsOn }, failing),
    ).rejects.toThrow('a failed');
    expect(events).toEqual(['start b', 'end b']);
  });

  it('names a cycle instead of waiting forever', async () => {
    const cyclic = (item: string) => ({ a: ['b'], b: ['a'] })[item] ?? [];
    await expect(
      inDependencyOrder(['a', 'b'], { lanes: 2, keyOf, dependsOn: cyclic }, async (item) => item),
    ).rejects.toThrow('a cycle among a, b');
  });
});
