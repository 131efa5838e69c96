/**
 * @module String similarity for comparison levels: Jaro-Winkler (the `jaro-winkler` package: window
 * max(len)/2 − 1, prefix of at most 4, scaling 0.1, boost above 0.7, as in Splink/DuckDB), Levenshtein
 * (`fastest-levenshtein`, Myers bit-parallel), a bounded Damerau (optimal string alignment) distance for
 * dates and ids, and word-set Jaccard for free text.
 */
import jaroWinklerDistance from 'jaro-winkler'
import { distance as levenshteinDistance } from 'fastest-levenshtein'

/** Jaro-Winkler similarity in [0, 1]; 1 for equal strings. */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return 1
  return jaroWinklerDistance(a, b)
}

/** Levenshtein edit distance (insert, delete, substitute). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0
  return levenshteinDistance(a, b)
}

/** The three rows {@link osaDistanceAtMost} works in, reused from call to call (single-threaded, never re-entered). */
const rows: Int32Array[] = [new Int32Array(64), new Int32Array(64), new Int32Array(64)]

/**
 * Optimal-string-alignment distance (Levenshtein plus adjacent transposition, each substring edited once),
 * stopping early once it must exceed `max`; returns `max + 1` then. Hand-written because a DOB or id typo level
 * needs only "is it at most 1 or 2", on short strings, millions of times: the npm `damerau-levenshtein` package
 * fills a full matrix and allocates a result object on every call, and ships no types.
 */
export function osaDistanceAtMost(a: string, b: string, max: number): number {
  if (a === b) return 0
  const n = a.length
  const m = b.length
  if (Math.abs(n - m) > max) return max + 1
  if (rows[0]!.length < m + 1) for (let r = 0; r < 3; r++) rows[r] = new Int32Array(2 * (m + 1))
  let prev2 = rows[0]!
  let prev = rows[1]!
  let cur = rows[2]!
  prev2.fill(0, 0, m + 1)
  for (let j = 0; j <= m; j++) prev[j] = j
  for (let i = 1; i <= n; i++) {
    cur[0] = i
    let rowMin = i
    const ca = a.charCodeAt(i - 1)
    for (let j = 1; j <= m; j++) {
      const cb = b.charCodeAt(j - 1)
      const cost = ca === cb ? 0 : 1
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) v = Math.min(v, prev2[j - 2]! + 1)
      cur[j] = v
      if (v < rowMin) rowMin = v
    }
    if (rowMin > max) return max + 1
    const t = prev2
    prev2 = prev
    prev = cur
    cur = t
  }
  return Math.min(prev[m]!, max + 1)
}

/** Jaccard similarity of the sets of space-separated words; 1 when both are empty. */
export function wordJaccard(a: string, b: string): number {
  if (a === b) return 1
  const left = new Set(a.split(' ').filter((w) => w !== ''))
  const right = new Set(b.split(' ').filter((w) => w !== ''))
  if (left.size === 0 && right.size === 0) return 1
  let both = 0
  for (const w of left) if (right.has(w)) both++
  return both / (left.size + right.size - both)
}
