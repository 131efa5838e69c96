import { describe, expect, it } from 'vitest'
import { SAFE_DEFAULT, createClassifier } from './classification.js'

const classifier = createClassifier({ fields: { 'traits.diagnosis': { category: 'health', sensitivity: 'restricted' }, 'properties.cart.*': { category: 'financial', sensitivity: 'internal' } }, default: SAFE_DEFAULT })
const cat = (path: string): string => {
  const c = classifier.classify(path)
  return `${c.category}/${c.sensitivity}`
}

describe('classification', () => {
  it('classifies the Segment reserved traits and context fields', () => {
    expect(cat('traits.email')).toBe('contact/confidential')
    expect(cat('traits.firstName')).toBe('identifier/confidential')
    expect(cat('traits.address.street')).toBe('contact/confidential')
    expect(cat('traits.address.country')).toBe('location/internal')
    expect(cat('traits.birthday')).toBe('demographic/confidential')
    expect(cat('context.ip')).toBe('location/confidential')
    expect(cat('context.location.latitude')).toBe('location/confidential')
    expect(cat('context.device.advertisingId')).toBe('identifier/confidential')
    expect(cat('context.device.model')).toBe('device/internal')
    expect(cat('context.traits.email')).toBe('contact/confidential')
    expect(cat('properties.revenue')).toBe('financial/confidential')
  })

  it('applies configured rules, the longest match winning', () => {
    expect(cat('traits.diagnosis')).toBe('health/restricted')
    expect(cat('properties.cart.total')).toBe('financial/internal')
    expect(cat('traits.company.name')).toBe('professional/internal')
  })

  it('gives unknown fields the safe default, never public', () => {
    expect(cat('traits.favouriteColour')).toBe('personal/confidential')
    expect(cat('properties.anything.deep')).toBe('personal/confidential')
    expect(cat('traits.__proto__')).toBe('personal/confidential')
    expect(cat('traits.constructor')).toBe('personal/confidential')
    expect(() => createClassifier({ fields: {}, default: { category: 'personal', sensitivity: 'public' } })).toThrow(/must not be public/)
  })

  it('sees through look-alike names: full-width, zero-width, case', () => {
    expect(cat('traits.ｅｍａｉｌ')).toBe('contact/confidential')
    expect(cat('traits.e\u200bmail')).toBe('contact/confidential')
    expect(cat('traits.EMAIL')).toBe('contact/confidential')
    expect(cat('traits.ﬁrstName')).toBe('identifier/confidential') // the "fi" ligature
    // A Cyrillic "е" is a different letter: it matches no rule and gets the safe default, not less.
    expect(cat('traits.\u0435mail')).toBe('personal/confidential')
  })
})
