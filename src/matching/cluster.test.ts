import { describe, expect, it } from 'vitest'
import { clusterPairs } from './cluster.js'
import { selectLinks } from './link.js'

const groups = (clusterOf: Int32Array): number[][] => {
  const byCluster = new Map<number, number[]>()
  clusterOf.forEach((c, i) => byCluster.set(c, [...(byCluster.get(c) ?? []), i]))
  return [...byCluster.values()].sort((a, b) => a[0]! - b[0]!)
}

describe('clustering', () => {
  it('takes connected components and leaves unmatched records alone', () => {
    const result = clusterPairs(5, [{ a: 0, b: 1, probability: 0.999 }, { a: 1, b: 2, probability: 0.995 }], { maxSize: 10, minCohesion: 0, probability: () => 1 })
    expect(groups(result.clusterOf)).toEqual([[0, 1, 2], [3], [4]])
    expect(result.splits).toBe(0)
  })

  it('splits a chain whose ends do not match (cohesion check) at its weakest link', () => {
    // 0-1 strong, 1-2 weak; 0 and 2 are unlike each other.
    const like = (a: number, b: number): number => (Math.abs(a - b) === 1 ? 0.99 : 0.001)
    const result = clusterPairs(3, [{ a: 0, b: 1, probability: 0.9999 }, { a: 1, b: 2, probability: 0.991 }], { maxSize: 10, minCohesion: 0.8, probability: like })
    expect(groups(result.clusterOf)).toEqual([[0, 1], [2]])
    expect(result.splits).toBe(1)
  })

  it('splits a component over the size cap', () => {
    const edges = [0, 1, 2, 3].map((i) => ({ a: i, b: i + 1, probability: i === 2 ? 0.991 : 0.999 }))
    const result = clusterPairs(5, edges, { maxSize: 3, minCohesion: 0, probability: () => 1 })
    expect(groups(result.clusterOf)).toEqual([[0, 1, 2], [3, 4]])
  })
})

describe('link constraints', () => {
  const pairs = [
    { left: 0, right: 0, probability: 0.999 },
    { left: 0, right: 1, probability: 0.995 },
    { left: 1, right: 1, probability: 0.99 },
    { left: 2, right: 1, probability: 0.998 },
  ]
  it('one-to-one keeps the strongest pair of each record on both sides', () => {
    expect(selectLinks(pairs, 'one-to-one').map((p) => `${p.left}${p.right}`)).toEqual(['00', '21'])
  })
  it('one-to-many lets a main-file record take several link-file records', () => {
    expect(selectLinks(pairs, 'one-to-many').map((p) => `${p.left}${p.right}`)).toEqual(['00', '21'])
    expect(selectLinks([{ left: 0, right: 0, probability: 0.99 }, { left: 0, right: 1, probability: 0.99 }], 'one-to-many')).toHaveLength(2)
  })
  it('many-to-many keeps them all', () => {
    expect(selectLinks(pairs, 'many-to-many')).toHaveLength(4)
  })
})
