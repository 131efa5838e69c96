import { describe, expect, it } from 'vitest'
import { epsilonMicros, noisyCount, parseEpsilon, sampleDiscreteLaplace } from './discrete-laplace.js'

describe('parseEpsilon', () => {
  it('reads decimals exactly as rationals', () => {
    expect(parseEpsilon('0.5', 2)).toEqual({ num: 1, den: 2 })
    expect(parseEpsilon('1', 2)).toEqual({ num: 1, den: 1 })
    expect(epsilonMicros(parseEpsilon('0.125', 2))).toBe(125_000)
  })
  it.each(['0', '0.0', '-1', 'NaN', 'Infinity', '1e-3', '', ' ', '0.0000001', '0x1', '.5'])('refuses %j', (text) => {
    expect(() => parseEpsilon(text, 2)).toThrow(/ε/)
  })
  it('refuses an ε above the maximum', () => {
    expect(() => parseEpsilon('2.000001', 2)).toThrow(/governance.dp.maxEpsilon/)
    expect(parseEpsilon('2', 2)).toEqual({ num: 2, den: 1 })
  })
})

describe('discrete Laplace sampler', () => {
  it('has mean 0 and the variance of the two-sided geometric law (ε = 0.5)', () => {
    // Var = 2α/(1-α)² with α = e^{-ε}.
    const n = 20_000
    let sum = 0
    let sq = 0
    for (let i = 0; i < n; i++) {
      const y = sampleDiscreteLaplace(1, 2)
      sum += y
      sq += y * y
    }
    const alpha = Math.exp(-0.5)
    const variance = (2 * alpha) / (1 - alpha) ** 2
    const mean = sum / n
    expect(Math.abs(mean)).toBeLessThan(6 * Math.sqrt(variance / n))
    expect(sq / n - mean * mean).toBeGreaterThan(variance * 0.85)
    expect(sq / n - mean * mean).toBeLessThan(variance * 1.15)
  })
  it('gives P(0) = (1-α)/(1+α) (ε = 1)', () => {
    const n = 20_000
    let zeros = 0
    for (let i = 0; i < n; i++) if (sampleDiscreteLaplace(1, 1) === 0) zeros++
    const alpha = Math.exp(-1)
    const p = (1 - alpha) / (1 + alpha)
    expect(Math.abs(zeros / n - p)).toBeLessThan(6 * Math.sqrt((p * (1 - p)) / n))
  })
  it('is symmetric', () => {
    let pos = 0
    let neg = 0
    for (let i = 0; i < 20_000; i++) {
      const y = sampleDiscreteLaplace(1, 1)
      if (y > 0) pos++
      if (y < 0) neg++
    }
    expect(Math.abs(pos - neg)).toBeLessThan(6 * Math.sqrt(pos + neg))
  })
  it('draws only from the injected uniform source (no Math.random)', () => {
    const draws: number[] = []
    // A source that answers 0 for 200 draws, then the top value: every draw goes through it and the sampler ends.
    let calls = 0
    const uniform = (n: number): number => {
      calls++
      draws.push(n)
      return calls > 200 ? n - 1 : 0
    }
    const y = sampleDiscreteLaplace(1, 1, uniform)
    expect(Number.isInteger(y)).toBe(true)
    expect(draws.every((n) => Number.isInteger(n) && n >= 1)).toBe(true)
  })
  it('never releases a negative count', () => {
    for (let i = 0; i < 2000; i++) expect(noisyCount(0, { num: 1, den: 10 })).toBeGreaterThanOrEqual(0)
  })
  it('refuses a non-integer scale', () => {
    expect(() => sampleDiscreteLaplace(0.5, 1)).toThrow(RangeError)
  })
})
