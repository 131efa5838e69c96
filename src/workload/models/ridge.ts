/**
 * @module Ridge regression (closed form, normal equations), the log-linear base the boosted trees start from:
 * log runtime is close to linear in log input, log nodes and the log job parameters (work ∝ size / machines),
 * which trees alone only approximate in steps and cannot extrapolate.
 */
import { solve } from './nnls.js'

export interface RidgeModel {
  readonly intercept: number
  readonly coef: readonly number[]
  /** Which feature indices the model reads. */
  readonly columns: readonly number[]
}

/** Fits y ≈ b + Σ w·x[columns] with penalty `lambda` × n on the (unscaled) coefficients. */
export function fitRidge(x: readonly (readonly number[])[], y: readonly number[], columns: readonly number[], lambda = 1e-3): RidgeModel {
  const p = columns.length + 1
  const a = Array.from({ length: p }, () => new Array<number>(p).fill(0))
  const b = new Array<number>(p).fill(0)
  const row = new Array<number>(p)
  for (let i = 0; i < x.length; i++) {
    row[0] = 1
    for (let k = 0; k < columns.length; k++) row[k + 1] = x[i]![columns[k]!]!
    for (let u = 0; u < p; u++) {
      b[u] = b[u]! + row[u]! * y[i]!
      for (let v = 0; v < p; v++) a[u]![v] = a[u]![v]! + row[u]! * row[v]!
    }
  }
  for (let u = 1; u < p; u++) a[u]![u] = a[u]![u]! + lambda * Math.max(1, x.length)
  const w = solve(a, b)
  if (!w) return { intercept: y.reduce((s, v) => s + v, 0) / Math.max(1, y.length), coef: columns.map(() => 0), columns }
  return { intercept: w[0]!, coef: w.slice(1), columns }
}

export function predictRidge(m: RidgeModel, x: readonly number[]): number {
  let s = m.intercept
  for (let k = 0; k < m.columns.length; k++) s += m.coef[k]! * x[m.columns[k]!]!
  return s
}
