import { describe, expect, it } from 'vitest'
import { codesIntersect, metaphoneCodes } from './phonetic.js'
import { jaroWinkler, levenshtein, osaDistanceAtMost, wordJaccard } from './similarity.js'

describe('string similarity', () => {
  it('gives the textbook Jaro-Winkler values', () => {
    expect(jaroWinkler('martha', 'marhta')).toBeCloseTo(0.9611, 4)
    expect(jaroWinkler('dwayne', 'duane')).toBeCloseTo(0.84, 2)
    expect(jaroWinkler('dixon', 'dicksonx')).toBeCloseTo(0.8133, 4)
    expect(jaroWinkler('same', 'same')).toBe(1)
    expect(jaroWinkler('abc', 'xyz')).toBe(0)
  })

  it('counts edits, and a transposition as one edit in the bounded OSA distance', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3)
    expect(osaDistanceAtMost('19850612', '19856012', 2)).toBe(1)
    expect(levenshtein('19850612', '19856012')).toBe(2)
    expect(osaDistanceAtMost('abc', 'abc', 1)).toBe(0)
    expect(osaDistanceAtMost('abcdef', 'azcdxf', 1)).toBe(2)
    expect(osaDistanceAtMost('short', 'muchlongerword', 2)).toBe(3)
    // Its rows are reused between calls: a long pair after short ones, then short ones again.
    const long = 'x'.repeat(200)
    expect(osaDistanceAtMost(long, `${long.slice(0, 100)}yx${long.slice(102)}`, 2)).toBe(1)
    expect(osaDistanceAtMost(long, `y${long.slice(1, 150)}z${long.slice(151)}`, 2)).toBe(2)
    expect(osaDistanceAtMost('19850612', '19856012', 2)).toBe(1)
    expect(osaDistanceAtMost('ab', 'ba', 1)).toBe(1)
    expect(osaDistanceAtMost('abcdef', 'azcdxf', 1)).toBe(2)
  })

  it('compares word sets', () => {
    expect(wordJaccard('st james hospital', 'james st hospital')).toBe(1)
    expect(wordJaccard('a b', 'b c')).toBeCloseTo(1 / 3)
  })

  it('codes names by sound', () => {
    expect(codesIntersect(metaphoneCodes('smith'), metaphoneCodes('smyth'))).toBe(true)
    expect(codesIntersect(metaphoneCodes('catherine'), metaphoneCodes('kathryn'))).toBe(true)
    expect(codesIntersect(metaphoneCodes('smith'), metaphoneCodes('jones'))).toBe(false)
  })
})
