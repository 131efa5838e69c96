import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { rawEvent, tempDir } from '../../test/support/factories.js'
import { DEFAULT_IDENTIFIER_TYPES } from '../config/identity-types.js'
import { Keyring } from '../governance/crypto/keyring.js'
import { LocalKeyFile } from '../governance/crypto/local-key-file.js'
import type { StoredDataKey } from '../governance/crypto/data-key-store.js'
import { SqliteDataKeyStore } from '../storage/sqlite/data-key-store.js'
import { clearSessionKey, sessionKeyFor } from '../pipeline/enrich/sessions.js'
import { CLEAR_IDENTIFIERS, PseudonymousIdentifiers, isSealedMatchRecord } from './identifier-codec.js'
import { compileIdentityRules } from './identity-rules.js'

describe('PseudonymousIdentifiers: match records and session keys', () => {
  let t: ReturnType<typeof tempDir>
  let store: SqliteDataKeyStore
  let reads: string[][]
  let keyring: Keyring
  let codec: PseudonymousIdentifiers
  beforeEach(async () => {
    t = tempDir()
    store = new SqliteDataKeyStore(join(t.dir, 'keys.db'))
    await store.migrate()
    reads = []
    // Counts the store reads, to show the candidates of a batch cost one.
    const get = store.get.bind(store)
    store.get = (refs: readonly string[]): Promise<StoredDataKey[]> => {
      reads.push([...refs])
      return get(refs)
    }
    keyring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: join(t.dir, 'master.key'), env: {}, create: true }), store, cacheTtlMs: 60_000 })
    codec = new PseudonymousIdentifiers(keyring)
  })
  afterEach(async () => {
    await store.close()
    t.cleanup()
  })

  const record = (profileId: string, surname: string) => ({ profileId, fields: JSON.stringify(['annabel', surname, '1984-03-12', 'leeds']) })

  it('seals each record under its profile data key, in no clear text, and opens them all with one key read', async () => {
    const records = Array.from({ length: 20 }, (_, i) => record(`p${i}`, `sondergeld${i}`))
    const sealed = await codec.sealMatchRecords(records)
    for (const s of sealed) {
      expect(isSealedMatchRecord(s)).toBe(true)
      expect(s).not.toMatch(/annabel|sondergeld|1984|leeds/)
      expect(s).toMatch(/^[A-Za-z0-9_-]{43}\.[0-9a-f]{16}\.[A-Za-z0-9_-]+$/)
    }
    // Each record its own nonce: the same traits seal differently.
    expect(new Set(await codec.sealMatchRecords([record('p0', 'x'), record('p0', 'x')])).size).toBe(2)
    keyring.clearCache()
    reads = []
    const opened = await codec.openMatchRecords(records.map((r, n) => ({ profileId: r.profileId, fields: sealed[n]! })))
    expect(opened).toEqual(records.map((r) => r.fields))
    expect(reads).toHaveLength(1)
    expect(reads[0]).toHaveLength(20)
    // Hot: no read at all.
    reads = []
    await codec.openMatchRecords(records.map((r, n) => ({ profileId: r.profileId, fields: sealed[n]! })))
    expect(reads).toEqual([])
  })

  it('reads old clear records as they are; a shredded profile, a record moved to another profile or a damaged one is no record', async () => {
    const [a, b] = await codec.sealMatchRecords([record('pa', 'ash'), record('pb', 'birch')])
    const legacy = record('pc', 'cedar')
    await keyring.shred(['pb'])
    expect(await codec.openMatchRecords([
      { profileId: 'pa', fields: a! }, { profileId: 'pb', fields: b! }, legacy, { profileId: 'pz', fields: a! }, { profileId: 'pa', fields: 'garbage' },
    ])).toEqual([record('pa', 'ash').fields, null, legacy.fields, null, null])
  })

  it('keys sessions by the stored value of the anonymous id (else the user id), as the graph stores it; clear rules keep clear ids', async () => {
    const rules = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US', Infinity, codec)
    const key = sessionKeyFor(rules)
    expect(key(rawEvent('page', { anonymousId: ' anon-1 ', userId: 'u-1' }))).toBe(codec.storedValue('anonymous_id', 'anon-1'))
    expect(key(rawEvent('page', { userId: 'u-1' }))).toBe(codec.storedValue('user_id', 'u-1'))
    expect(key(rawEvent('page', { anonymousId: 'u-1' }))).not.toBe(key(rawEvent('page', { userId: 'u-1' })))
    expect(key(rawEvent('page', { anonymousId: '' }))).toBeUndefined()
    expect(key(rawEvent('page', { anonymousId: 'anon-1' }))).toMatch(/^~[A-Za-z0-9_-]{22}$/)
    const clear = compileIdentityRules(DEFAULT_IDENTIFIER_TYPES, 'US', Infinity, CLEAR_IDENTIFIERS)
    expect(sessionKeyFor(clear)).toBe(clearSessionKey)
    expect(clearSessionKey(rawEvent('page', { anonymousId: 'anon-1', userId: 'u-1' }))).toBe('anon-1')
    expect(clearSessionKey(rawEvent('page', { userId: 'u-1' }))).toBe('u-1')
  })
})
