/**
 * @module Exact discrete Laplace (two-sided geometric) noise for counts: P(Y = y) ∝ exp(-ε·|y| / Δ), sampled with
 * the algorithm of Canonne, Kamath and Steinke ("The Discrete Gaussian for Differential Privacy", 2020, Alg. 2) on
 * integers only, with every random draw from the operating system's CSPRNG (`crypto.randomInt`). No floating
 * point is involved, so the output cannot leak the true count through rounding artefacts (Mironov 2012), and
 * `Math.random` is never used. ε is a rational number (see {@link parseEpsilon}).
 */
import { randomInt } from 'node:crypto'
import { ValidationError } from '../../core/errors.js'

/** A positive rational number num/den. */
export interface Rational {
  readonly num: number
  readonly den: number
}

/** Uniform integer in [0, n), from the CSPRNG. Injectable for the tests of the sampler's logic only. */
export type UniformInt = (n: number) => number

const secureUniform: UniformInt = (n) => randomInt(n)

/** Digits after the decimal point an ε may have: ε is kept as an integer count of millionths. */
export const EPSILON_DECIMALS = 6
export const EPSILON_SCALE = 10 ** EPSILON_DECIMALS

/**
 * Parses ε as written by a caller (`0.5`, `1`, `0.125`) into a rational with denominator 10^6. Refuses anything
 * else: negative, zero, NaN, Infinity, exponents, more than 6 decimals, or above `max`.
 */
export function parseEpsilon(text: string, max: number, field = '.epsilon'): Rational {
  const m = /^(\d{1,6})(?:\.(\d{1,6}))?$/.exec(text.trim())
  if (!m) throw new ValidationError(field, `${JSON.stringify(text.slice(0, 40))} is not a valid ε: give a positive decimal number such as 0.1 or 0.5 (at most ${EPSILON_DECIMALS} decimals)`)
  const micros = Number(m[1]) * EPSILON_SCALE + Number((m[2] ?? '').padEnd(EPSILON_DECIMALS, '0'))
  if (micros <= 0) throw new ValidationError(field, 'ε must be greater than 0 (ε = 0 would answer nothing; a negative ε would give budget back)')
  if (micros > Math.round(max * EPSILON_SCALE)) throw new ValidationError(field, `ε ${text.trim()} is above the largest ε one count may spend (${max}, governance.dp.maxEpsilon)`)
  return reduce({ num: micros, den: EPSILON_SCALE })
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

function reduce(r: Rational): Rational {
  const g = gcd(r.num, r.den)
  return { num: r.num / g, den: r.den / g }
}

/** ε as millionths (the unit of the budget ledger). */
export function epsilonMicros(e: Rational): number {
  return Math.round((e.num * EPSILON_SCALE) / e.den)
}

/** Bernoulli(num/den), exactly. */
function bernoulli(num: number, den: number, uniform: UniformInt): boolean {
  return uniform(den) < num
}

/** Bernoulli(exp(-num/den)) for num/den in [0, 1], exactly (CKS20, Alg. 1). */
function bernoulliExpUnit(num: number, den: number, uniform: UniformInt): boolean {
  let k = 1
  // Each step draws Bernoulli(γ/k); the loop ends with probability ≥ 1/2 per step.
  while (bernoulli(num, den * k, uniform)) k++
  return k % 2 === 1
}

/** Bernoulli(exp(-num/den)) for any num/den ≥ 0. */
function bernoulliExp(num: number, den: number, uniform: UniformInt): boolean {
  let whole = Math.floor(num / den)
  while (whole-- > 0) if (!bernoulliExpUnit(1, 1, uniform)) return false
  return bernoulliExpUnit(num % den, den, uniform)
}

/**
 * One draw of discrete Laplace noise with P(y) ∝ exp(-|y| · s / t), i.e. scale t/s (CKS20, Alg. 2: X = U + t·V is
 * geometric with P(x) ∝ exp(-x/t), and Y = ⌊X/s⌋). For ε-DP on a count of sensitivity Δ the scale is Δ/ε: with
 * ε = num/den, s = num and t = Δ·den.
 */
export function sampleDiscreteLaplace(s: number, t: number, uniform: UniformInt = secureUniform): number {
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(t) || s < 1 || t < 1) throw new RangeError('the scale t/s needs positive integers s and t')
  for (;;) {
    const u = uniform(t)
    if (!bernoulliExp(u, t, uniform)) continue
    let v = 0
    while (bernoulliExpUnit(1, 1, uniform)) v++
    const x = u + t * v
    const y = Math.floor(x / s)
    const negative = uniform(2) === 1
    if (negative && y === 0) continue
    return negative ? -y : y
  }
}

/** The count released under ε-DP: true count + discrete Laplace(Δ/ε) noise, clamped at 0 (post-processing). */
export function noisyCount(trueCount: number, epsilon: Rational, sensitivity = 1, uniform: UniformInt = secureUniform): number {
  const noise = sampleDiscreteLaplace(epsilon.num, sensitivity * epsilon.den, uniform)
  return Math.max(0, trueCount + noise)
}
