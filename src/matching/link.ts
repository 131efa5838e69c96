/**
 * @module Link constraints between two files: one-to-one (each record of either file matches at most one of
 * the other: greedy by falling probability, the standard assignment for record linkage), one-to-many (each
 * record of the `--link` file matches at most one of the main file, which may match many), or many-to-many.
 */
import type { LinkMode } from './match-config.js'

export interface LinkPair {
  /** Index in the main file. */
  readonly left: number
  /** Index in the `--link` file. */
  readonly right: number
  readonly probability: number
}

/** The pairs (all at or above the threshold) kept under `mode`, strongest first. */
export function selectLinks(pairs: readonly LinkPair[], mode: LinkMode): LinkPair[] {
  const sorted = [...pairs].sort((x, y) => y.probability - x.probability || x.left - y.left || x.right - y.right)
  if (mode === 'many-to-many') return sorted
  const usedLeft = new Set<number>()
  const usedRight = new Set<number>()
  const kept: LinkPair[] = []
  for (const pair of sorted) {
    if (usedRight.has(pair.right)) continue
    if (mode === 'one-to-one' && usedLeft.has(pair.left)) continue
    usedLeft.add(pair.left)
    usedRight.add(pair.right)
    kept.push(pair)
  }
  return kept
}
