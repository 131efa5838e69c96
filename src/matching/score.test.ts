import { describe, expect, it } from 'vitest'
import { trainedPersonModel, TRAIT_MATCH_CONFIG } from './testing/realtime-model.js'
import { parseMatchConfig } from './match-config.js'
import { makeRecord, population } from './testing/synthetic.js'
import { probabilityOfWeight, weightOfProbability } from './score.js'

describe('PairScorer.weightUnlessBelow', () => {
  it('gives exactly the weight of every pair that can reach the threshold, and null only for pairs below it', () => {
    const model = trainedPersonModel()
    const config = parseMatchConfig(TRAIT_MATCH_CONFIG)
    // Another seed than the training sample: originals, their corrupted copies, and unrelated people.
    const { raw } = population(400, 200, 5)
    const records = raw.map((v, i) => makeRecord(config, `q${i}`, v))
    let stopped = 0
    let kept = 0
    for (const threshold of [weightOfProbability(0.5), weightOfProbability(0.8), weightOfProbability(0.99)]) {
      for (let i = 0; i < records.length; i += 3) {
        for (let j = 0; j < records.length; j += 7) {
          const full = model.scorer.weight(records[i]!, records[j]!)
          const early = model.scorer.weightUnlessBelow(records[i]!, records[j]!, threshold)
          if (early === null) {
            expect(full).toBeLessThan(threshold)
            stopped++
          } else {
            expect(early).toBe(full)
            kept++
          }
        }
      }
    }
    // Both paths are exercised: most random pairs stop early, the duplicates (and i = j) are scored to the end.
    expect(stopped).toBeGreaterThan(kept)
    expect(kept).toBeGreaterThan(0)
    expect(probabilityOfWeight(model.scorer.weight(records[0]!, records[0]!))).toBeGreaterThan(0.99)
  })
})
