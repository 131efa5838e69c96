/**
 * @module Small seeded pseudo-random generator for reproducible demo data: sfc32 (Chris Doty-Humphrey's Small
 * Fast Counter, from PractRand) seeded by the cyrb128 string hash. Not for anything secret.
 */

/** Random helpers over one seeded stream. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [min, max], both included. */
  int(min: number, max: number): number
  /** Uniform in [min, max). */
  between(min: number, max: number): number
  chance(probability: number): boolean
  pick<T>(items: readonly T[]): T
  /** Picks by weight: `[[value, weight], ...]`. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T
  /** A version-4-shaped UUID (lower case). */
  uuid(): string
  /** `length` lower-case hex digits. */
  hex(length: number): string
  /** `length` base-36 characters. */
  base36(length: number): string
}

function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}

/** A generator whose whole sequence is fixed by `seed`. */
export function createRng(seed: string): Rng {
  let [a, b, c, d] = cyrb128(seed)
  const next = (): number => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  // Discard the first outputs, which are poorly mixed for similar seeds.
  for (let i = 0; i < 15; i++) next()
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  const digits = (length: number, radix: number): string => {
    let out = ''
    for (let i = 0; i < length; i++) out += int(0, radix - 1).toString(radix)
    return out
  }
  return {
    next,
    int,
    between: (min, max) => min + next() * (max - min),
    chance: (probability) => next() < probability,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[int(0, items.length - 1)]!
    },
    weighted: <T>(choices: readonly (readonly [T, number])[]): T => {
      const total = choices.reduce((sum, [, w]) => sum + w, 0)
      let roll = next() * total
      for (const [value, weight] of choices) {
        roll -= weight
        if (roll < 0) return value
      }
      return choices[choices.length - 1]![0]
    },
    uuid: () => {
      const h = digits(32, 16)
      const variant = ((int(0, 3) + 8)).toString(16)
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`
    },
    hex: (length) => digits(length, 16),
    base36: (length) => digits(length, 36),
  }
}
