import { describe, expect, it } from 'vitest'
import { countPatterns, expectationMaximisation } from './em.js'
import { buildComparisons } from './comparisons.js'
import { estimateU } from './estimate-u.js'
import { seededRandom } from '../core/seeded-random.js'
import { countTermFrequencies } from './term-frequency.js'
import { PERSON_CONFIG, population } from './testing/synthetic.js'

describe('expectation maximisation', () => {
  it('recovers m and the share of matches from pairs drawn from a known model', () => {
    // Two comparisons with three levels each; 20% matches.
    const trueM = [[0.8, 0.15, 0.05], [0.7, 0.2, 0.1]]
    const u = [[0.02, 0.08, 0.9], [0.05, 0.15, 0.8]]
    const random = seededRandom(3)
    const draw = (p: readonly number[]): number => {
      const x = random()
      return x < p[0]! ? 0 : x < p[0]! + p[1]! ? 1 : 2
    }
    const n = 40_000
    const vectors = new Int8Array(n * 2)
    for (let k = 0; k < n; k++) {
      const match = random() < 0.2
      for (let c = 0; c < 2; c++) vectors[k * 2 + c] = draw(match ? trueM[c]! : u[c]!)
    }
    const patterns = countPatterns(vectors, 2, n)
    expect(patterns.size).toBe(9)
    const start = { lambda: 0.5, m: [[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]], u }
    const result = expectationMaximisation(patterns, start, { fixU: true, maxIterations: 500, tolerance: 1e-7 })
    expect(result.converged).toBe(true)
    expect(result.lambda).toBeCloseTo(0.2, 1)
    result.m.forEach((row, c) => row.forEach((x, l) => expect(Math.abs(x - trueM[c]![l]!)).toBeLessThan(0.05)))
  })

  it('estimates u from random pairs: the exact level from value frequencies, the rest sampled', () => {
    const { records } = population(400, 0)
    const comparisons = buildComparisons(PERSON_CONFIG.columns)
    const frequencies = countTermFrequencies(comparisons, records)
    const u = estimateU(comparisons, records, records, frequencies, { pairs: 20_000, seed: 1 })
    u.forEach((row) => expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 6))
    const city = comparisons.findIndex((c) => c.name === 'city')
    expect(u[city]![0]).toBeGreaterThan(0.08) // ten cities: about 1/10 of random pairs share one
    expect(u[city]![0]).toBeLessThan(0.13)
    const surname = comparisons.findIndex((c) => c.name === 'surname')
    expect(u[surname]!.at(-1)).toBeGreaterThan(0.8) // most random pairs have unlike surnames
  })
})
