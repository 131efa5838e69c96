import { describe, expect, it } from 'vitest'
import { basicText, normaliseDate, normaliseValue } from './normalise.js'

describe('normalisation', () => {
  it('lower-cases, removes accents and punctuation', () => {
    expect(basicText('  Zoë  O\'Brien-Smith ')).toBe('zoe o brien smith')
    expect(normaliseValue("O'Brien", 'surname', 'ymd')?.s).toBe('obrien')
  })

  it('treats placeholders and blanks as missing', () => {
    for (const raw of ['', '  ', 'NULL', 'n/a', 'Unknown']) expect(normaliseValue(raw, 'city', 'ymd')).toBeNull()
    expect(normaliseValue('000000', 'phone', 'ymd')).toBeNull()
  })

  it('reads dates in the usual layouts and keeps a typo date for the typo level', () => {
    expect(normaliseDate('19850612', 'ymd')).toEqual({ s: '19850612', day: 5641 })
    expect(normaliseDate('1985-06-12', 'ymd')).toEqual(normaliseDate('19850612', 'ymd'))
    expect(normaliseDate('12/06/1985', 'dmy')).toEqual(normaliseDate('19850612', 'ymd'))
    expect(normaliseDate('06/12/1985', 'mdy')).toEqual(normaliseDate('19850612', 'ymd'))
    expect(normaliseDate('19851312', 'ymd')).toEqual({ s: '19851312' })
    expect(normaliseDate('', 'ymd')).toBeNull()
  })

  it('keeps the user part of an e-mail and the last digits of a phone', () => {
    expect(normaliseValue(' Ann.Lee+news@Example.com ', 'email', 'ymd')).toEqual({ s: 'ann.lee+news@example.com', alt: 'ann.lee' })
    expect(normaliseValue('+44 (0)20 7946-0018', 'phone', 'ymd')).toEqual({ s: '4402079460018', alt: '79460018' })
  })

  it('codes names by sound and sorts the words of a full name', () => {
    expect(normaliseValue('Smith', 'surname', 'ymd')?.codes).toContain('SM0')
    expect(normaliseValue('Lee Ann', 'full_name', 'ymd')?.alt).toBe('ann lee')
  })
})
