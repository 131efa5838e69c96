/**
 * @module k-nearest-neighbour regression: inverse-distance-weighted mean of the k closest training rows on
 * standardised features. Hand-written because ml-knn is a classifier (it votes for the most frequent label);
 * regression needs the weighted mean, and the distance here weighs the job one-hot heavily so neighbours are
 * runs of the same job whenever it has any.
 */

export interface KnnModel {
  readonly x: readonly Float64Array[]
  readonly y: readonly number[]
  readonly mean: Float64Array
  readonly scale: Float64Array
  readonly k: number
}

/** `weights[j]` multiplies feature j's standardised distance (e.g. 10 for job indicators). */
export function fitKnn(x: readonly (readonly number[])[], y: readonly number[], k = 5, weights?: readonly number[]): KnnModel {
  const f = x[0]?.length ?? 0
  const mean = new Float64Array(f)
  const scale = new Float64Array(f)
  for (let j = 0; j < f; j++) {
    let s = 0
    for (const r of x) s += r[j]!
    mean[j] = s / x.length
    let v = 0
    for (const r of x) v += (r[j]! - mean[j]!) ** 2
    const sd = Math.sqrt(v / x.length)
    scale[j] = (sd > 1e-9 ? 1 / sd : 0) * (weights?.[j] ?? 1)
  }
  const rows = x.map((r) => Float64Array.from(r, (v, j) => (v - mean[j]!) * scale[j]!))
  return { x: rows, y, mean, scale, k: Math.min(k, x.length) }
}

export function predictKnn(m: KnnModel, row: readonly number[]): number {
  const q = Float64Array.from(row, (v, j) => (v - m.mean[j]!) * m.scale[j]!)
  const best: { d: number; y: number }[] = []
  for (let i = 0; i < m.x.length; i++) {
    const r = m.x[i]!
    let d = 0
    for (let j = 0; j < q.length; j++) d += (q[j]! - r[j]!) ** 2
    if (best.length < m.k || d < best[best.length - 1]!.d) {
      best.push({ d, y: m.y[i]! })
      best.sort((a, b) => a.d - b.d)
      if (best.length > m.k) best.pop()
    }
  }
  let ws = 0
  let s = 0
  for (const b of best) {
    const w = 1 / (Math.sqrt(b.d) + 1e-3)
    ws += w
    s += w * b.y
  }
  return s / ws
}
