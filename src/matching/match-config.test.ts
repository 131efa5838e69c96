import { describe, expect, it } from 'vitest'
import { ConfigError } from '../core/errors.js'
import { checkColumnsPresent, parseMatchConfig } from './match-config.js'

const minimal = { id: 'rec_id', columns: { given: 'given_name', surname: 'surname', dob: { kind: 'dob', termFrequency: false }, note: 'ignore' } }

function problem(raw: unknown): ConfigError {
  try {
    parseMatchConfig(raw)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected the config to be rejected')
}

describe('parseMatchConfig', () => {
  it('fills in the defaults and leaves ignored columns out', () => {
    const config = parseMatchConfig(minimal)
    expect(config.columns.map((c) => [c.name, c.kind, c.termFrequency])).toEqual([
      ['given', 'given_name', true],
      ['surname', 'surname', true],
      ['dob', 'dob', false],
    ])
    expect(config).toMatchObject({ matchThreshold: 0.99, reviewThreshold: 0.5, link: 'one-to-one', blocking: [], maxBlockSize: 500 })
  })

  it('reads blocking rules with transforms', () => {
    const config = parseMatchConfig({ ...minimal, blocking: [['surname:metaphone', 'dob'], 'given'] })
    expect(config.blocking).toEqual([
      [{ column: 'surname', transform: 'metaphone' }, { column: 'dob', transform: 'exact' }],
      [{ column: 'given', transform: 'exact' }],
    ])
  })

  it('rejects an unknown kind naming the column, the allowed kinds and a likely fix', () => {
    const error = problem({ id: 'id', columns: { name: 'surnme' } })
    expect(error.field).toBe('.columns["name"]')
    expect(error.message).toContain('must be one of given_name, surname')
    expect(error.message).toContain('did you mean "surname"?')
    expect(error.message).toContain('docs/identity.md')
  })

  it('rejects unknown keys, a missing id, a blocking column that is not compared, and crossed thresholds', () => {
    expect(problem({ ...minimal, threshold: 0.9 }).message).toMatch(/\.threshold: unknown key; did you mean "thresholds"\?/)
    expect(problem({ columns: minimal.columns }).field).toBe('.id')
    expect(problem({ ...minimal, blocking: [['postcode']] }).message).toContain('column "postcode" is not in "columns"')
    expect(problem({ ...minimal, thresholds: { match: 0.8, review: 0.9 } }).field).toBe('.thresholds.review')
    expect(problem({ ...minimal, thresholds: { match: 2 } }).message).toContain('between 0 and 1')
    expect(problem({ id: 'id', columns: { a: 'ignore' } }).message).toContain('names no column to compare')
    expect(problem([]).field).toBe('(root)')
  })

  it('checks that the file has the configured columns', () => {
    const config = parseMatchConfig(minimal)
    expect(() => checkColumnsPresent(config, ['rec_id', 'given', 'surname', 'dob'], 'a.csv')).not.toThrow()
    expect(() => checkColumnsPresent(config, ['rec_id', 'given', 'surname'], 'a.csv')).toThrow(/a\.csv has no column "dob"/)
  })
})
