/**
 * @module Non-negative least squares (Lawson & Hanson 1974, the active-set method), for the Ernest model and the
 * stacking weights: a handful of columns, so the passive-set subproblems are solved by their normal equations.
 * ml-matrix has least squares but no non-negativity constraint; the method is forty lines.
 */

/** Solves the square system `a x = b` by Gaussian elimination with partial pivoting (null when singular). */
export function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length
  const m = a.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < n; c++) {
    let p = c
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r
    if (Math.abs(m[p]![c]!) < 1e-12) return null
    ;[m[c], m[p]] = [m[p]!, m[c]!]
    for (let r = 0; r < n; r++) {
      if (r === c) continue
      const k = m[r]![c]! / m[c]![c]!
      for (let j = c; j <= n; j++) m[r]![j] = m[r]![j]! - k * m[c]![j]!
    }
  }
  return m.map((row, i) => row[n]! / row[i]!)
}

/** argmin ||A x − b||² subject to x >= 0. `a` is row-major (rows × columns). */
export function nnls(a: readonly (readonly number[])[], b: readonly number[], maxIterations = 100): number[] {
  const p = a[0]?.length ?? 0
  const ata = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => a.reduce((s, row) => s + row[i]! * row[j]!, 0)))
  const atb = Array.from({ length: p }, (_, i) => a.reduce((s, row, r) => s + row[i]! * b[r]!, 0))
  const x = new Array<number>(p).fill(0)
  const passive = new Set<number>()
  const gradient = (): number[] => atb.map((v, i) => v - ata[i]!.reduce((s, aij, j) => s + aij * x[j]!, 0))
  const tol = 1e-10 * Math.max(1, ...atb.map(Math.abs))
  for (let iter = 0; iter < maxIterations; iter++) {
    const w = gradient()
    let best = -1
    for (let i = 0; i < p; i++) if (!passive.has(i) && w[i]! > tol && (best < 0 || w[i]! > w[best]!)) best = i
    if (best < 0) break
    passive.add(best)
    for (let inner = 0; inner < maxIterations; inner++) {
      const idx = [...passive].sort((u, v) => u - v)
      const z = solve(idx.map((i) => idx.map((j) => ata[i]![j]!)), idx.map((i) => atb[i]!))
      if (!z) {
        passive.delete(best)
        return x
      }
      if (z.every((v) => v > 0)) {
        idx.forEach((i, k) => { x[i] = z[k]! })
        break
      }
      let alpha = 1
      idx.forEach((i, k) => { if (z[k]! <= 0) alpha = Math.min(alpha, x[i]! / (x[i]! - z[k]!)) })
      idx.forEach((i, k) => { x[i] = x[i]! + alpha * (z[k]! - x[i]!) })
      for (const i of idx) if (x[i]! <= 1e-12) { x[i] = 0; passive.delete(i) }
    }
  }
  return x
}
