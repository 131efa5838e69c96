import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadModelFile } from '../matching/model-file.js'
import { TRAIT_MATCH_CONFIG } from '../matching/testing/realtime-model.js'
import { makeRecord, population } from '../matching/testing/synthetic.js'
import { runMatchTrain } from './match-train.js'

function sink(): { write: (s: string) => boolean; text: () => string } {
  let out = ''
  return { write: (s: string) => ((out += s), true), text: () => out }
}

describe('tessera match-train', () => {
  const dir = mkdtempSync(join(tmpdir(), 'match-train-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('trains on a CSV and writes a model file the pipeline can load', async () => {
    const { raw } = population(1500, 300, 5)
    const csv = ['id,given,surname,dob,city', ...raw.map((r, i) => `r${i},${r.given},${r.surname},${r.dob},${r.city}`), 'bad,"unterminated'].join('\n')
    writeFileSync(join(dir, 'people.csv'), csv)
    writeFileSync(join(dir, 'match.json'), JSON.stringify(TRAIT_MATCH_CONFIG))
    const out = sink()
    const err = sink()
    const code = await runMatchTrain([join(dir, 'people.csv'), '--config', join(dir, 'match.json'), '--out', join(dir, 'model.json')], { stdout: out, stderr: err })
    expect(code).toBe(2) // trained, one row skipped
    expect(err.text()).toMatch(/people\.csv:\d+/)
    expect(out.text()).toMatch(/trained on 1800 records/)
    const model = loadModelFile(join(dir, 'model.json'))
    const a = makeRecord(model.config, 'a', { given: 'annabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' })
    const b = makeRecord(model.config, 'b', { given: 'annabel', surname: 'sondergelt', dob: '1984-03-12', city: 'leeds' })
    expect(model.scorer.weight(a, b)).toBeGreaterThan(7)
    expect(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))).toMatchObject({ version: 1, records: 1800 })
  })

  it('says what is missing', async () => {
    const err = sink()
    expect(await runMatchTrain(['x.csv', '--out', 'm.json'], { stdout: sink(), stderr: err })).toBe(1)
    expect(err.text()).toMatch(/--config is required/)
  })
})
