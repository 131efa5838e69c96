import { describe, expect, it } from 'vitest'
import { ConfigError } from '../core/errors.js'
import type { JsonObject, RawEvent } from '../core/event.js'
import { modelFromFile, modelToFile } from './model-file.js'
import { RealtimeMatching } from './realtime.js'
import { makeRecord } from './testing/synthetic.js'
import { TRAIT_MATCH_CONFIG, trainedPersonModel } from './testing/realtime-model.js'

describe('model file', () => {
  const model = trainedPersonModel()

  it('round-trips through JSON and scores pairs exactly as the trained model', () => {
    const restored = modelFromFile(JSON.parse(JSON.stringify(modelToFile(model, TRAIT_MATCH_CONFIG, 3600))))
    const a = makeRecord(model.config, 'a', { given: 'annabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' })
    const b = makeRecord(model.config, 'b', { given: 'anabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' })
    const c = makeRecord(model.config, 'c', { given: 'james', surname: 'smith', dob: '1990-01-01', city: 'york' })
    expect(restored.scorer.weight(a, b)).toBeCloseTo(model.scorer.weight(a, b), 9)
    expect(restored.scorer.weight(a, c)).toBeCloseTo(model.scorer.weight(a, c), 9)
  })

  it('refuses a file of another version or with parameters that do not fit the config', () => {
    const file = modelToFile(model, TRAIT_MATCH_CONFIG, 3600)
    expect(() => modelFromFile({ ...file, version: 9 })).toThrow(/version 9.*match-train/)
    expect(() => modelFromFile({ ...file, parameters: { ...file.parameters, comparisons: file.parameters.comparisons.slice(1) } })).toThrow(ConfigError)
    expect(() => modelFromFile({ ...file, config: { id: 'id', columns: { given: 'given_nam' } } })).toThrow(/given_nam/)
  })
})

describe('RealtimeMatching', () => {
  const matching = new RealtimeMatching(trainedPersonModel(), { autoMerge: 0.99, review: 0.5, maxBlockSize: 100 })
  const event = (traits: JsonObject): RawEvent => ({ type: 'identify', messageId: 'm1', sourceId: 'crm', timestamp: '', receivedAt: '', traits })

  it('reads compared traits (nested paths too) and ignores events without any', () => {
    const r = matching.prepare(event({ given: 'Ann', surname: 'Smith', dob: '1984-03-12', other: 'x' }))!
    expect(r.fields.map((f) => f?.s ?? null)).toEqual(['ann', 'smith', '19840312', null])
    expect(matching.prepare(event({ plan: 'pro' }))).toBeNull()
    expect(matching.keysOf(r).length).toBeGreaterThan(0)
  })

  it('overlays a stored record with newer values and decides against its own thresholds', () => {
    const stored = matching.prepare(event({ given: 'annabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' }))!
    const newer = matching.prepare(event({ city: 'york' }))!
    const merged = matching.overlay('p1', stored, newer)
    expect(merged.fields.map((f) => f?.s ?? null)).toEqual(['annabel', 'sondergeld', '19840312', 'york'])
    expect(matching.decode('p1', matching.encode(merged))).toEqual(merged)
    const typo = matching.prepare(event({ given: 'annabel', surname: 'sondergelt', dob: '1984-03-12', city: 'york' }))!
    expect(matching.best(typo, [merged])).toMatchObject({ profileId: 'p1', decision: 'auto-merge' })
    const stranger = matching.prepare(event({ given: 'james', surname: 'smith', dob: '1990-01-01', city: 'york' }))!
    expect(matching.best(stranger, [merged])).toBeNull()
    expect(() => new RealtimeMatching(trainedPersonModel(), { autoMerge: 0.5, review: 0.9, maxBlockSize: 10 })).toThrow(RangeError)
  })
})
