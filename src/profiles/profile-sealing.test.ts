import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SAFE_DEFAULT, createClassifier } from '../governance/classification.js'
import { Keyring } from '../governance/crypto/keyring.js'
import { LocalKeyFile } from '../governance/crypto/local-key-file.js'
import { SqliteDataKeyStore } from '../storage/sqlite/data-key-store.js'
import { ProfileSealing, isSealedPayload, mergeTraitTrees, storedTimelineEntry } from './profile-sealing.js'

describe('ProfileSealing', () => {
  let dir: string
  let store: SqliteDataKeyStore
  let keyring: Keyring
  const classifier = createClassifier({ fields: { 'traits.company.ceo_email': { category: 'contact', sensitivity: 'restricted' } }, default: SAFE_DEFAULT })
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-profile-sealing-'))
    store = new SqliteDataKeyStore(join(dir, 'keys.db'))
    await store.migrate()
    keyring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: join(dir, 'master.key'), env: {}, create: true }), store, cacheTtlMs: 60_000 })
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const sealing = (seal = true): ProfileSealing => new ProfileSealing({ keyring, classifier, seal })

  it('splits traits per leaf by classification, a nested rule included, and merges the two trees back', () => {
    const traits = JSON.parse('{"plan":"pro","email":"a@b.c","address":{"city":"Lyon","street":"1 rue"},"company":{"name":"Acme","ceo_email":"x@y.z"},"tags":["a"],"empty":{},"__proto__":{"polluted":true}}')
    const { clear, sealed } = sealing().splitTraits(traits)
    expect(clear).toEqual({ plan: 'pro', address: { city: 'Lyon' }, company: { name: 'Acme' } })
    expect(sealed).toEqual(JSON.parse('{"email":"a@b.c","address":{"street":"1 rue"},"company":{"ceo_email":"x@y.z"},"tags":["a"],"empty":{},"__proto__":{"polluted":true}}'))
    const merged = mergeTraitTrees(clear, sealed!)
    expect(merged).toEqual(traits)
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(sealing().splitTraits({ plan: 'free' })).toEqual({ clear: { plan: 'free' }, sealed: null })
  })

  it('seals traits and payloads bound to their profile and message: a copy under another one does not open', async () => {
    const s = sealing()
    const [a, b] = await s.sealTraits([{ id: 'p1', traits: { email: 'a@b.c', plan: 'pro' } }, { id: 'p2', traits: { email: 'd@e.f' } }])
    expect(a!.traits).toEqual({ plan: 'pro' })
    expect(a!.sealedTraits).not.toContain('a@b.c')
    expect(await s.openTraits([{ id: 'p1', traits: a!.traits, sealedTraits: a!.sealedTraits! }])).toEqual([{ plan: 'pro', email: 'a@b.c' }])
    // p1's sealed traits copied onto p2: the additional data names p1, so they do not open there.
    expect(await s.openTraits([{ id: 'p2', traits: {}, sealedTraits: a!.sealedTraits! }])).toEqual([{}])
    expect(b!.traits).toEqual({})

    const payload = JSON.stringify({ type: 'track', properties: { secret: 'canary-1' } })
    const [sealed] = await s.sealPayloads([{ profileId: 'p1', messageId: 'm1', payload }])
    expect(isSealedPayload(sealed!)).toBe(true)
    expect(sealed).not.toContain('canary-1')
    expect(await s.openPayloads([{ messageId: 'm1', payload: sealed! }, { messageId: 'm2', payload: sealed! }, { messageId: 'm3', payload: '{"clear":1}' }, { messageId: 'm4', payload: 'garbage' }]))
      .toEqual([payload, null, '{"clear":1}', null])
    expect(storedTimelineEntry({ messageId: 'm1', sourceId: 's', type: 'track', name: null, timestamp: 1 }, sealed!)).toMatchObject({ event: {}, sealed })
    // Shredded: nothing opens any more, nothing throws.
    await keyring.shred(['p1'])
    expect(await s.openPayloads([{ messageId: 'm1', payload: sealed! }])).toEqual([null])
    expect(await s.openTraits([{ id: 'p1', traits: { plan: 'pro' }, sealedTraits: a!.sealedTraits! }])).toEqual([{ plan: 'pro' }])
  })

  it('with sealing off writes in clear and refuses no count; with it on refuses counts by sealed paths only', async () => {
    const off = sealing(false)
    expect(await off.sealTraits([{ id: 'p1', traits: { email: 'a@b.c' } }])).toEqual([{ traits: { email: 'a@b.c' }, sealedTraits: undefined }])
    expect(await off.sealPayloads([{ profileId: 'p1', messageId: 'm', payload: '{}' }])).toEqual(['{}'])
    expect(() => off.assertCountable([{ column: 'traits', path: ['email'], op: 'exists', value: null }])).not.toThrow()
    const on = sealing()
    expect(() => on.assertCountable([{ column: 'traits', path: ['plan'], op: '=', value: 'x' }, { column: 'eventCount', path: [], op: '>', value: 1 }])).not.toThrow()
    expect(() => on.assertCountable([{ column: 'traits', path: ['company', 'ceo_email'], op: 'exists', value: null }]))
      .toThrow(/cannot count by traits\.company\.ceo_email: traits classified restricted are stored sealed/)
    expect(() => on.assertCountable([{ column: 'traits', path: ['company', 'name'], op: 'exists', value: null }])).not.toThrow()
  })
})
