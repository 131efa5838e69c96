import { describe, expect, it } from 'vitest'
import { evaluate } from './evaluate.js'

describe('evaluate', () => {
  // Truth: {0,1,2} {3,4} {5}. Prediction: {0,1} {2} {3,4,5}.
  const entity = ['a', 'a', 'a', 'b', 'b', 'c']
  const cluster = ['x', 'x', 'y', 'z', 'z', 'z']

  it('scores clusters pairwise and by B-cubed', () => {
    const e = evaluate({ entity, cluster, threshold: 0.5 })
    expect(e.truePairs).toBe(4)
    expect(e.possiblePairs).toBe(15)
    // Predicted pairs: 01, 34, 35, 45 -> TP 01, 34.
    expect(e.clusters).toMatchObject({ truePositives: 2, falsePositives: 2, falseNegatives: 2, precision: 0.5, recall: 0.5 })
    // B-cubed precision: (1 + 1 + 1 + 2/3 + 2/3 + 1/3) / 6; recall: (2/3 + 2/3 + 1/3 + 1 + 1 + 1) / 6.
    expect(e.bcubed.precision).toBeCloseTo(14 / 18)
    expect(e.bcubed.recall).toBeCloseTo(14 / 18)
  })

  it('scores pairs at the threshold and at the best one, with blocking recall and reduction ratio', () => {
    const pairs = [
      { a: 0, b: 1, probability: 0.99 },
      { a: 3, b: 4, probability: 0.9 },
      { a: 3, b: 5, probability: 0.8 },
      { a: 1, b: 2, probability: 0.3 },
    ]
    const e = evaluate({ entity, cluster, threshold: 0.85, pairs })
    expect(e.pairsAtThreshold).toMatchObject({ threshold: 0.85, truePositives: 2, falsePositives: 0, falseNegatives: 2 })
    expect(e.pairsAtBest).toMatchObject({ threshold: 0.3, truePositives: 3, falsePositives: 1, falseNegatives: 1 })
    expect(e.blockingRecall).toBe(0.75)
    expect(e.candidatePairs).toBe(4)
    expect(e.reductionRatio).toBeCloseTo(1 - 4 / 15)
  })

  it('counts only cross-file pairs for a link', () => {
    const e = evaluate({ entity: ['a', 'a', 'a', 'b'], cluster: ['x', 'x', 'x', 'y'], source: [0, 0, 1, 1], threshold: 0.5 })
    expect(e.truePairs).toBe(2)
    expect(e.possiblePairs).toBe(4)
    expect(e.clusters.f1).toBe(1)
  })
})
