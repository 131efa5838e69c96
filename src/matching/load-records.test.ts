import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../../test/support/factories.js'
import { loadRecords } from './load-records.js'
import { parseMatchConfig } from './match-config.js'

const temp = tempDir('tessera-match-load-')
afterAll(() => temp.cleanup())
const config = parseMatchConfig({ id: 'rec_id', columns: { given_name: 'given_name', surname: 'surname', date_of_birth: 'dob' } })

function file(name: string, text: string): string {
  const path = join(temp.dir, name)
  writeFileSync(path, text)
  return path
}

describe('loadRecords', () => {
  it('reads a BOM, ", " separators, quotes and empty fields', async () => {
    const path = file('ok.csv', '\uFEFFrec_id, given_name, surname, date_of_birth\nrec-1-org, ann, "smith, jr", 19800101\nrec-1-dup-0, , smith, \n')
    const { records, problems } = await loadRecords(path, config)
    expect(problems).toEqual([])
    expect(records.map((r) => r.id)).toEqual(['rec-1-org', 'rec-1-dup-0'])
    expect(records[0]!.fields[1]!.s).toBe('smithjr')
    expect(records[1]!.fields[0]).toBeNull()
    expect(records[1]!.fields[2]).toBeNull()
  })

  it('reports a malformed row, a row without id and a repeated id with their lines, and keeps going', async () => {
    const path = file('bad.csv', 'rec_id,given_name,surname,date_of_birth\na,ann,lee,19800101\nb,bob,"unclosed,19800101\n')
    const broken = await loadRecords(path, config)
    expect(broken.records.map((r) => r.id)).toEqual(['a'])
    expect(broken.problems).toEqual([{ file: path, line: 3, message: expect.stringContaining('never closed') }])

    const path2 = file('bad2.csv', 'rec_id,given_name,surname,date_of_birth\na,ann,lee,19800101\nb,bob,lee\n,cy,lee,1\na,dup,lee,1\nc,cat,lee,19800101\n')
    const { records, problems } = await loadRecords(path2, config)
    expect(records.map((r) => r.id)).toEqual(['a', 'c'])
    expect(problems.map((p) => [p.line, p.message])).toEqual([
      [3, 'expected 4 fields (as in the header), found 3'],
      [4, 'no record id in column "rec_id"'],
      [5, 'record id "a" was already used on line 2; ids must be unique'],
    ])
  })

  it('refuses a file without the configured columns, saying which and how to fix it', async () => {
    const path = file('cols.csv', 'rec_id,given_name,surname\na,ann,lee\n')
    await expect(loadRecords(path, config)).rejects.toThrow(/has no column "date_of_birth" named in the match config.*febrl-no-ssn/)
    await expect(loadRecords(join(temp.dir, 'missing.csv'), config)).rejects.toThrow(/does not exist/)
  })
})
