import { describe, expect, it } from 'vitest'
import { buildComparisons, NULL_LEVEL } from './comparisons.js'
import { parseMatchConfig } from './match-config.js'
import { makeRecord } from './testing/synthetic.js'

const config = parseMatchConfig({
  id: 'id',
  columns: { given: 'given_name', surname: 'surname', dob: 'dob', email: 'email', ssn: 'identifier', city: 'city', note: 'text' },
})
const comparisons = buildComparisons(config.columns)
const byName = new Map(comparisons.map((c) => [c.name, c]))

function level(name: string, a: Record<string, string>, b: Record<string, string>): string {
  const comparison = byName.get(name)!
  const l = comparison.level(makeRecord(config, 'a', a), makeRecord(config, 'b', b))
  return l === NULL_LEVEL ? 'null' : comparison.levels[l]!
}

describe('comparison levels', () => {
  it('rank names: exact, swapped, crossed, Jaro-Winkler bands, phonetic, else; null when missing', () => {
    expect(level('given', { given: 'Ann' }, { given: 'ann' })).toBe('exact')
    expect(level('given', { given: 'ann', surname: 'lee' }, { given: 'lee', surname: 'ann' })).toBe('swapped')
    expect(level('surname', { surname: 'hunter' }, { given: 'hunter', surname: 'noah' })).toBe('crossed')
    expect(level('surname', { surname: 'martha' }, { surname: 'marhta' })).toBe('jaro-winkler >= 0.92')
    expect(level('surname', { surname: 'catherine' }, { surname: 'kathryn' })).toBe('double metaphone')
    expect(level('surname', { surname: 'smith' }, { surname: 'jones' })).toBe('else')
    expect(level('surname', { surname: '' }, { surname: 'jones' })).toBe('null')
  })

  it('rank dates of birth: exact, one typo, month, year, ten years', () => {
    expect(level('dob', { dob: '19850612' }, { dob: '1985-06-12' })).toBe('exact')
    expect(level('dob', { dob: '19850612' }, { dob: '19850621' })).toBe('one typo')
    expect(level('dob', { dob: '19850612' }, { dob: '19850701' })).toBe('within a month')
    expect(level('dob', { dob: '19850612' }, { dob: '19860302' })).toBe('within a year')
    expect(level('dob', { dob: '19850612' }, { dob: '19920101' })).toBe('within 10 years')
    expect(level('dob', { dob: '19850612' }, { dob: '19400101' })).toBe('else')
  })

  it('rank e-mails, identifiers, cities and free text', () => {
    expect(level('email', { email: 'ann@a.com' }, { email: 'ann@b.org' })).toBe('same user')
    expect(level('ssn', { ssn: '1234567' }, { ssn: '1234576' })).toBe('damerau-levenshtein <= 1')
    expect(level('ssn', { ssn: '1234567' }, { ssn: '1299567' })).toBe('damerau-levenshtein <= 2')
    expect(level('city', { city: 'Liverpool' }, { city: 'Liverpol' })).toBe('jaro-winkler >= 0.88')
    expect(level('note', { note: 'flat 3 rose court' }, { note: 'rose court flat 3' })).toBe('word jaccard >= 0.6')
  })
})
