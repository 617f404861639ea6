/**
 * Seeded pseudo-random numbers for the generator: sfc32 seeded from a string hash of (seed, label).
 * Every part of the generator draws from its own labelled stream, so changing how one part draws
 * does not shift the numbers of another. Never Math.random, never the clock.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** Uniform float in [min, max). */
  float(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by relative weight: [[value, weight], ...]. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T;
  /** `count` distinct items without replacement, in the order drawn. */
  sample<T>(items: readonly T[], count: number): T[];
  /** A UUID-shaped (version 4 layout) lowercase hex string. */
  uuid(): string;
}

/** Reads items[index], throwing instead of returning undefined (noUncheckedIndexedAccess). */
export function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new RangeError(`index ${index} out of range (length ${items.length})`);
  return item;
}

/** cyrb128: four 32-bit hashes of a string, used as sfc32 state. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    h1 = h2 ^ Math.imul(h1 ^ code, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ code, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ code, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ code, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export function createRng(seed: number, label: string): Rng {
  let [a, b, c, d] = hash128(`${seed}:${label}`);
  const nextUint32 = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let index = 0; index < 15; index += 1) nextUint32();

  const next = (): number => nextUint32() / 4294967296;
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const hex8 = (): string => nextUint32().toString(16).padStart(8, '0');

  return {
    next,
    int,
    float: (min, max) => min + next() * (max - min),
    chance: (probability) => next() < probability,
    pick: (items) => at(items, Math.floor(next() * items.length)),
    weighted(choices) {
      let total = 0;
      for (const [, weight] of choices) total += weight;
      let threshold = next() * total;
      for (const [value, weight] of choices) {
        threshold -= weight;
        if (threshold < 0) return value;
      }
      return at(choices, choices.length - 1)[0];
    },
    sample(items, count) {
      const pool = items.slice();
      const taken = Math.min(count, pool.length);
      for (let index = 0; index < taken; index += 1) {
        const swap = int(index, pool.length - 1);
        const chosen = at(pool, swap);
        pool[swap] = at(pool, index);
        pool[index] = chosen;
      }
      return pool.slice(0, taken);
    },
    uuid() {
      const raw = hex8() + hex8() + hex8() + hex8();
      const variant = ((Number.parseInt(raw.charAt(16), 16) & 0x3) | 0x8).toString(16);
      return `${raw.slice(0, 8)}-${raw.slice(8, 12)}-4${raw.slice(13, 16)}-${variant}${raw.slice(17, 20)}-${raw.slice(20, 32)}`;
    },
  };
}

/**
 * Draws indexes in proportion to fixed weights in O(log n) per draw (cumulative sums + binary search).
 */
export function weightedIndexSampler(weights: readonly number[]): (rng: Rng) => number {
  const cumulative: number[] = [];
  let total = 0;
  for (const weight of weights) {
    total += weight;
    cumulative.push(total);
  }
  if (cumulative.length === 0 || total <= 0) throw new Error('weightedIndexSampler needs positive weights');
  return (rng) => {
    const target = rng.next() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (at(cumulative, middle) > target) high = middle;
      else low = middle + 1;
    }
    return low;
  };
}
