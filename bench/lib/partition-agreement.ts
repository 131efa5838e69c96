/**
 * @module Whether two identity resolutions put the same identifiers together: compares two partitions of identifier
 * keys (key → group label, labels meaning nothing across the two), as needed to check a warehouse-style stitching
 * baseline against Tessera's identity graph.
 */

export interface PartitionAgreement {
  /** True when both hold the same keys and group them the same way. */
  readonly agree: boolean
  readonly keys: number
  readonly groupsA: number
  readonly groupsB: number
  /** Keys only one side holds. */
  readonly onlyInA: number
  readonly onlyInB: number
  /** Groups of A split across several groups of B, and the other way round. */
  readonly splitInB: number
  readonly splitInA: number
  /** Up to 5 examples saying what differs, for the error message. */
  readonly examples: readonly string[]
}

/**
 * Compares partitions `a` and `b` (each a map from key to its group label). They agree when they hold the same
 * keys and there is a one-to-one map between their labels that carries every key's group in `a` to its group in
 * `b`.
 */
export function comparePartitions(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): PartitionAgreement {
  const examples: string[] = []
  const note = (text: string): void => {
    if (examples.length < 5) examples.push(text)
  }
  let onlyInA = 0
  let onlyInB = 0
  // For every label of A the one label of B its keys map to (and the other way round); a second one is a split.
  const aToB = new Map<string, string>()
  const bToA = new Map<string, string>()
  const splitA = new Set<string>()
  const splitB = new Set<string>()
  for (const [key, labelA] of a) {
    const labelB = b.get(key)
    if (labelB === undefined) {
      onlyInA++
      note(`${key} is only in the first resolution`)
      continue
    }
    const seenB = aToB.get(labelA)
    if (seenB === undefined) aToB.set(labelA, labelB)
    else if (seenB !== labelB && !splitB.has(labelA)) {
      splitB.add(labelA)
      note(`group ${labelA} of the first is split in the second (${seenB}, ${labelB}; key ${key})`)
    }
    const seenA = bToA.get(labelB)
    if (seenA === undefined) bToA.set(labelB, labelA)
    else if (seenA !== labelA && !splitA.has(labelB)) {
      splitA.add(labelB)
      note(`group ${labelB} of the second is split in the first (${seenA}, ${labelA}; key ${key})`)
    }
  }
  for (const key of b.keys()) {
    if (!a.has(key)) {
      onlyInB++
      note(`${key} is only in the second resolution`)
    }
  }
  return {
    agree: onlyInA === 0 && onlyInB === 0 && splitA.size === 0 && splitB.size === 0,
    keys: a.size,
    groupsA: new Set(a.values()).size,
    groupsB: new Set(b.values()).size,
    onlyInA, onlyInB,
    splitInB: splitB.size,
    splitInA: splitA.size,
    examples,
  }
}
