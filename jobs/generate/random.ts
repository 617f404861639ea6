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
  /** Where the stream is: `resumeRng(rng.state())` draws the same numbers from here on as `rng` does. */
  state(): RngState;
}

/** The four 32-bit words of an sfc32 generator. */
export type RngState = readonly [number, number, number, number];

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

/** Two lowercase hex digits per byte value. */
const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function createRng(seed: number, label: string): Rng {
  const rng = resumeRng(hash128(`${seed}:${label}`));
  for (let index = 0; index < 15; index += 1) rng.next();
  return rng;
}

/**
 * A generator continuing from a saved state. The streaming generator keeps states instead of what was drawn: it
 * replays a part of a stream (an abandoned session, the orders after their times) when it needs that part again.
 */
export function resumeRng(state: RngState): Rng {
  let [a, b, c, d] = state;
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

  const next = (): number => nextUint32() / 4294967296;
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  // Byte by byte from a table: the same text as toString(16).padStart(8, '0'), several times faster.
  const hex8 = (): string => {
    const word = nextUint32();
    return (
      at(HEX_BYTES, word >>> 24) +
      at(HEX_BYTES, (word >>> 16) & 0xff) +
      at(HEX_BYTES, (word >>> 8) & 0xff) +
      at(HEX_BYTES, word & 0xff)
    );
  };

  const rng: Rng = {
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
      return samplePositions(rng, items.length, count).map((position) => at(items, position));
    },
    uuid() {
      const raw = hex8() + hex8() + hex8() + hex8();
      const variant = ((Number.parseInt(raw.charAt(16), 16) & 0x3) | 0x8).toString(16);
      return `${raw.slice(0, 8)}-${raw.slice(8, 12)}-4${raw.slice(13, 16)}-${variant}${raw.slice(17, 20)}-${raw.slice(20, 32)}`;
    },
    state: () => [a >>> 0, b >>> 0, c >>> 0, d >>> 0],
  };
  return rng;
}

/**
 * The positions `rng.sample` takes from a list of `length` items, in the order drawn (a partial Fisher-Yates
 * shuffle), without the list: only the positions swapped so far are remembered, so sampling a few of millions
 * of rows needs memory for the few.
 */
export function samplePositions(rng: Rng, length: number, count: number): number[] {
  const taken = Math.min(count, length);
  const swapped = new Map<number, number>();
  const positions: number[] = [];
  for (let index = 0; index < taken; index += 1) {
    const swap = rng.int(index, length - 1);
    positions.push(swapped.get(swap) ?? swap);
    swapped.set(swap, swapped.get(index) ?? index);
  }
  return positions;
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
