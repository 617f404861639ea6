import { describe, expect, it } from 'vitest';
import { createRng, weightedIndexSampler } from './random.ts';

describe('createRng', () => {
  it('repeats for the same seed and label, differs otherwise', () => {
    const draw = (seed: number, label: string) => {
      const rng = createRng(seed, label);
      return Array.from({ length: 5 }, () => rng.next());
    };
    expect(draw(1, 'a')).toEqual(draw(1, 'a'));
    expect(draw(1, 'a')).not.toEqual(draw(2, 'a'));
    expect(draw(1, 'a')).not.toEqual(draw(1, 'b'));
  });

  it('draws in range, samples without replacement, and makes UUID-shaped ids', () => {
    const rng = createRng(3, 'test');
    for (let index = 0; index < 1000; index += 1) {
      const value = rng.int(1, 5);
      expect(value >= 1 && value <= 5 && Number.isInteger(value)).toBe(true);
    }
    const sample = rng.sample([1, 2, 3, 4, 5, 6], 4);
    expect(new Set(sample).size).toBe(4);
    expect(rng.sample([1, 2], 5)).toHaveLength(2);
    expect(rng.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('weights draws', () => {
    const rng = createRng(4, 'weights');
    const pick = weightedIndexSampler([1, 0, 3]);
    const counts = [0, 0, 0];
    for (let index = 0; index < 4000; index += 1) {
      const chosen = pick(rng);
      counts[chosen] = (counts[chosen] ?? 0) + 1;
    }
    expect(counts[1]).toBe(0);
    expect((counts[2] ?? 0) / (counts[0] ?? 1)).toBeGreaterThan(2.5);
    expect(
      rng.weighted([
        ['x', 0],
        ['y', 1],
      ] as const),
    ).toBe('y');
  });
});
