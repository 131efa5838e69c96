/**
 * End to end: a running Tessera (pipeline in its worker thread, embedded SQLite) receives people through the tracking
 * API; `tessera match-train --from-profiles` trains the real-time matcher on their stored traits while it runs, the
 * model it writes scores a typo of a person as a match, and the read is in the audit log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runMatchTrain } from '../../src/cli/match-train.js'
import { loadModelFile } from '../../src/matching/model-file.js'
import { TRAIT_MATCH_CONFIG } from '../../src/matching/testing/realtime-model.js'
import { makeRecord, population } from '../../src/matching/testing/synthetic.js'
import { startHarness, type Harness } from '../support/tessera-harness.js'

function sink(): { write: (s: string) => boolean; text: () => string } {
  let out = ''
  return { write: (s: string) => ((out += s), true), text: () => out }
}

describe('tessera match-train --from-profiles on a running Tessera', () => {
  let h: Harness
  const dir = mkdtempSync(join(tmpdir(), 'train-profiles-'))
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('trains on the stored profiles\' traits and audits the read', async () => {
    const { raw } = population(1500, 300, 9)
    for (let from = 0; from < raw.length; from += 500) {
      // Without their e-mails (duplicates share one, which would merge them deterministically): one profile per record.
      const batch = raw.slice(from, from + 500).map((r, i) => {
        const { email: _, ...traits } = r
        return { type: 'identify', anonymousId: `tp-${from + i}`, traits: { ...traits, plan: 'free' } }
      })
      expect((await h.send('/v1/batch', { batch })).status).toBe(200)
    }
    await h.drain(60_000)
    // One profile without any compared trait is read but not trained on; two people objected to analytics (the
    // purpose training rests on by default), one through the consent API, one with the consent object of an event.
    expect((await h.send('/v1/identify', { anonymousId: 'tp-none', traits: { plan: 'pro' } })).status).toBe(200)
    expect((await h.send('/v1/consent', { identifiers: ['anonymous_id:tp-7'], purposes: { analytics: false } })).status).toBe(200)
    expect((await h.send('/v1/track', { anonymousId: 'tp-8', event: 'Settings Saved', context: { consent: { categoryPreferences: { Analytics: false } } } })).status).toBe(200)
    await h.drain()
    writeFileSync(join(dir, 'match.json'), JSON.stringify(TRAIT_MATCH_CONFIG))
    const out = sink()
    const err = sink()
    const args = ['--from-profiles', '--data-dir', h.dataDir, '--config', join(dir, 'match.json'), '--out', join(dir, 'model.json')]
    expect(await runMatchTrain(args, { stdout: out, stderr: err }), err.text()).toBe(0)
    expect(out.text()).toMatch(/read 1801 profiles \(1800 with compared traits, 2 of them left out: their consent refuses analytics\)/)
    expect(out.text()).toMatch(/trained on 1798 records/)
    const model = loadModelFile(join(dir, 'model.json'))
    const a = makeRecord(model.config, 'a', { given: 'annabel', surname: 'sondergeld', dob: '1984-03-12', city: 'leeds' })
    const b = makeRecord(model.config, 'b', { given: 'annabel', surname: 'sondergelt', dob: '1984-03-12', city: 'leeds' })
    const c = makeRecord(model.config, 'c', { given: 'oscar', surname: 'brightwater', dob: '1950-07-01', city: 'york' })
    expect(model.scorer.weight(a, b)).toBeGreaterThan(7)
    expect(model.scorer.weight(a, c)).toBeLessThan(0)
    const audit = await h.admin<{ entries: { entry: { actor: { type: string }; detail: { profilesRead: number; records: number; refusedByConsent: number } } }[] }>('/v1/audit/entries?kind=identity.train')
    expect(audit.body.entries.map((e) => e.entry)).toEqual([expect.objectContaining({ actor: expect.objectContaining({ type: 'cli' }), detail: expect.objectContaining({ profilesRead: 1801, records: 1798, refusedByConsent: 2, purpose: 'analytics' }) })])
    // --limit reads fewer; a data dir without a state says so.
    const limited = sink()
    expect(await runMatchTrain([...args, '--limit', '500'], { stdout: limited, stderr: sink() })).toBe(0)
    expect(limited.text()).toMatch(/read 500 profiles/)
    const missing = sink()
    expect(await runMatchTrain(['--from-profiles', '--data-dir', join(dir, 'nowhere'), '--config', join(dir, 'match.json'), '--out', join(dir, 'm.json')], { stdout: sink(), stderr: missing })).toBe(1)
    expect(missing.text()).toMatch(/no state database at .*--data-dir/)
  }, 120_000)
})
