import { describe, expect, it } from 'vitest'
import { matchBatch } from './batch.js'
import { evaluate } from './evaluate.js'
import { Matcher } from './matcher.js'
import { decide } from './score.js'
import { trainModel } from './train.js'
import { makeRecord, PERSON_CONFIG as BASE, population } from './testing/synthetic.js'

// Fewer random pairs for u than the default keeps the test fast; 50,000 is plenty for 5 comparisons.
const PERSON_CONFIG = { ...BASE, uSamplePairs: 50_000 }

describe('batch matching', () => {
  it('finds the duplicates of a small population with high precision and recall', () => {
    const { records, entity } = population(600, 200)
    const result = matchBatch(PERSON_CONFIG, records, null)
    const e = evaluate({ entity, cluster: [...result.clusterOf].map(String), threshold: PERSON_CONFIG.matchThreshold })
    expect(e.truePairs).toBe(200)
    expect(e.clusters.precision).toBeGreaterThan(0.98)
    expect(e.clusters.recall).toBeGreaterThan(0.9)
    // λ is the chance that two random records match: 200 of 640,000 pairs.
    expect(result.model.scorer.parameters.lambda).toBeGreaterThan(200 / 639_600 / 3)
    expect(result.model.scorer.parameters.lambda).toBeLessThan((200 / 639_600) * 3)
    expect(result.training.emRuns.length).toBeGreaterThan(3)
  })

  it('links two files one-to-one', () => {
    const { records, entity } = population(300, 150, 5)
    const left = records.filter((r) => !r.id.endsWith('-dup'))
    const right = records.filter((r) => r.id.endsWith('-dup')).map((r) => ({ ...r, source: 1 as const }))
    const result = matchBatch(PERSON_CONFIG, left, right)
    const truth = [...entity.filter((_, i) => !records[i]!.id.endsWith('-dup')), ...entity.filter((_, i) => records[i]!.id.endsWith('-dup'))]
    const e = evaluate({ entity: truth, cluster: [...result.clusterOf].map(String), source: [...left.map(() => 0 as const), ...right.map(() => 1 as const)], threshold: 0.99 })
    expect(e.truePairs).toBe(150)
    expect(e.clusters.f1).toBeGreaterThan(0.9)
  })
})

describe('Matcher (real time)', () => {
  const { records } = population(600, 200)
  const { model } = trainModel(PERSON_CONFIG, records, null)

  it('scores an incoming record against the indexed ones through the blocking index, with a decision', () => {
    const matcher = new Matcher(model)
    for (const r of records.filter((r) => r.id !== 'p3-dup')) matcher.add(r)
    const incoming = records.find((r) => r.id === 'p3-dup')!
    const [best, ...rest] = matcher.score(incoming)
    expect(best).toMatchObject({ id: 'p3', decision: 'auto-merge' })
    expect(best!.probability).toBeGreaterThan(0.99)
    for (const other of rest) expect(other.probability).toBeLessThan(best!.probability)
  })

  it('decides by the thresholds: a copy merges, a namesake scores lower, a stranger gets a new profile', () => {
    const matcher = new Matcher(model)
    const known = makeRecord(PERSON_CONFIG, 'k1', { given: 'ann', surname: 'lee', dob: '1980-02-03', city: 'york', email: 'ann.lee@example.org' })
    matcher.add(known)
    const copy = makeRecord(PERSON_CONFIG, 'n0', { given: 'Ann', surname: 'Lee', dob: '19800203', city: 'York' })
    // Same name, but born years apart in another city.
    const namesake = makeRecord(PERSON_CONFIG, 'n1', { given: 'ann', surname: 'lee', dob: '1982-09-03', city: 'leeds' })
    const stranger = makeRecord(PERSON_CONFIG, 'n2', { given: 'bob', surname: 'stone', dob: '1960-07-07', city: 'hull' })
    const [same] = matcher.score(copy, { minProbability: 0 })
    const [maybe] = matcher.score(namesake, { minProbability: 0 })
    expect(same).toMatchObject({ id: 'k1', decision: 'auto-merge' })
    expect(maybe!.probability).toBeLessThan(same!.probability)
    expect(maybe!.decision).toBe(decide(maybe!.probability, PERSON_CONFIG.matchThreshold, PERSON_CONFIG.reviewThreshold))
    expect(matcher.score(stranger)).toEqual([])
    expect(() => matcher.add(known)).toThrow(/already indexed/)
  })

})

describe('decide', () => {
  it('maps a probability to auto-merge, review or none', () => {
    expect([0.995, 0.99, 0.7, 0.5, 0.2].map((p) => decide(p, 0.99, 0.5))).toEqual(['auto-merge', 'auto-merge', 'review', 'review', 'none'])
  })
})
