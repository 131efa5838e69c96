import { describe, expect, it } from 'vitest'
import { median, percentile, percentileOfSorted, Reservoir, summarize } from '../../bench/lib/stats.js'

describe('percentiles', () => {
  it('uses the nearest rank', () => {
    const sample = Array.from({ length: 100 }, (_, i) => i + 1) // 1..100
    expect(percentileOfSorted(sample, 0.5)).toBe(50)
    expect(percentileOfSorted(sample, 0.99)).toBe(99)
    expect(percentileOfSorted(sample, 1)).toBe(100)
    expect(percentileOfSorted(sample, 0)).toBe(1)
    expect(percentile([5, 1, 4, 2, 3], 0.5)).toBe(3)
    expect(percentile([10, 20], 0.99)).toBe(20)
  })

  it('refuses an empty sample and a percentile outside [0, 1]', () => {
    expect(() => percentile([], 0.5)).toThrow(/nothing was measured/)
    expect(() => percentile([1], 99)).toThrow(/fraction/)
  })

  it('takes the median of odd and even samples', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(() => median([])).toThrow()
  })

  it('summarizes a latency sample', () => {
    const s = summarize([...Array.from({ length: 99 }, () => 1), 50])
    expect(s).toEqual({ count: 100, p50_ms: 1, p90_ms: 1, p99_ms: 1, max_ms: 50 })
  })
})

describe('Reservoir', () => {
  it('keeps everything up to its capacity, then a uniform sample of fixed size', () => {
    const r = new Reservoir(1000, 42)
    for (let i = 0; i < 500; i++) r.add(i)
    expect(r.values()).toHaveLength(500)
    for (let i = 500; i < 100_000; i++) r.add(i)
    expect(r.seen).toBe(100_000)
    expect(r.values()).toHaveLength(1000)
    // A uniform sample of 0..99,999 has its median near 50,000 (far from the first 1,000 values kept at first).
    expect(median(r.values())).toBeGreaterThan(40_000)
    expect(median(r.values())).toBeLessThan(60_000)
  })
})
