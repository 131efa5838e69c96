import { describe, expect, it } from 'vitest'
import { comparePartitions } from '../../bench/lib/partition-agreement.js'

const map = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries))

describe('comparePartitions', () => {
  it('agrees on the same grouping under different labels', () => {
    const a = map({ 'user_id:u1': 'p1', 'email:a@x.io': 'p1', 'anonymous_id:z': 'p2' })
    const b = map({ 'user_id:u1': '7', 'email:a@x.io': '7', 'anonymous_id:z': '3' })
    const r = comparePartitions(a, b)
    expect(r.agree).toBe(true)
    expect(r).toMatchObject({ keys: 3, groupsA: 2, groupsB: 2 })
  })

  it('finds a group split in the other resolution', () => {
    const a = map({ x: 'p1', y: 'p1' })
    const b = map({ x: '1', y: '2' })
    const r = comparePartitions(a, b)
    expect(r.agree).toBe(false)
    expect(r.splitInB).toBe(1)
    expect(r.examples[0]).toMatch(/split in the second/)
  })

  it('finds two groups merged in the other resolution', () => {
    const r = comparePartitions(map({ x: 'p1', y: 'p2' }), map({ x: '1', y: '1' }))
    expect(r.agree).toBe(false)
    expect(r.splitInA).toBe(1)
  })

  it('finds keys that only one side holds', () => {
    const r = comparePartitions(map({ x: 'p1' }), map({ x: '1', y: '1' }))
    expect(r.agree).toBe(false)
    expect(r.onlyInB).toBe(1)
    expect(r.examples).toContain('y is only in the second resolution')
  })
})
