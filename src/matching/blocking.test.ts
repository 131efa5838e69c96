import { describe, expect, it } from 'vitest'
import { BlockingIndex, dedupeCandidates, defaultBlockingRules, linkCandidates, resolveBlockingRules } from './blocking.js'
import { parseMatchConfig } from './match-config.js'
import { makeRecord, PERSON_CONFIG } from './testing/synthetic.js'

describe('blocking', () => {
  it('derives rules from the column kinds: identifiers alone, two by two for the rest', () => {
    const config = parseMatchConfig({ id: 'id', columns: { g: 'given_name', s: 'surname', d: 'dob', p: 'postcode', e: 'email', n: 'text' } })
    const labels = resolveBlockingRules(config).map((r) => r.label)
    expect(labels).toEqual(['d', 'e', 'e:user', 'g:metaphone~s:metaphone', 'g:metaphone+d', 'g:metaphone+p', 's:metaphone+d', 's:metaphone+p', 'd+p'])
    expect(defaultBlockingRules(config.columns).some((rule) => rule.some((part) => part.column === 'n'))).toBe(false)
  })

  it('finds each pair once, including swapped names and typos that sound alike', () => {
    const records = [
      makeRecord(PERSON_CONFIG, 'a', { given: 'ann', surname: 'smith', dob: '1980-01-01' }),
      makeRecord(PERSON_CONFIG, 'b', { given: 'smith', surname: 'ann', city: 'york' }),
      makeRecord(PERSON_CONFIG, 'c', { given: 'ann', surname: 'smyth', dob: '1980-01-01' }),
      makeRecord(PERSON_CONFIG, 'd', { given: 'bob', surname: 'jones', dob: '1970-05-05' }),
    ]
    const index = new BlockingIndex(resolveBlockingRules(PERSON_CONFIG), 100)
    records.forEach((r, i) => index.add(i, r))
    const pairs = dedupeCandidates(records, index)
    const found = [...pairs.left].map((l, k) => `${records[l]!.id}${records[pairs.right[k]!]!.id}`)
    expect(found.sort()).toEqual(['ab', 'ac', 'bc'])
  })

  it('skips a block over the cap and reports it', () => {
    const records = Array.from({ length: 6 }, (_, i) => makeRecord(PERSON_CONFIG, `r${i}`, { given: 'x', surname: `s${i}`, dob: '2000-01-01' }))
    const index = new BlockingIndex(resolveBlockingRules(PERSON_CONFIG), 5)
    records.forEach((r, i) => index.add(i, r))
    expect(index.candidates(records[0]!)).toEqual([])
    expect(index.oversizedBlocks()[0]).toMatchObject({ rule: 'dob', size: 6 })
  })

  it('links across two files through an index of the second', () => {
    const left = [makeRecord(PERSON_CONFIG, 'l0', { email: 'a@x.org' }), makeRecord(PERSON_CONFIG, 'l1', { email: 'b@x.org' })]
    const right = [makeRecord(PERSON_CONFIG, 'r0', { email: 'b@x.org' }, 1)]
    const index = new BlockingIndex(resolveBlockingRules(PERSON_CONFIG), 10)
    right.forEach((r, i) => index.add(i, r))
    const pairs = linkCandidates(left, right.length, index)
    expect([pairs.count, pairs.left[0], pairs.right[0]]).toEqual([1, 1, 0])
  })
})
