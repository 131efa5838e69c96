import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { SqliteConsentStore } from '../../storage/sqlite/consent-store.js'
import { createClassifier, SAFE_DEFAULT } from '../classification.js'
import { DEFAULT_CONSENT, type ConsentConfig } from './consent-config.js'
import { ConsentLedger } from './consent-ledger.js'
import type { ConsentRecordInput } from './consent-record.js'
import type { ConsentStore } from './consent-store.js'

const dirs: ReturnType<typeof tempDir>[] = []
afterEach(() => { for (const d of dirs.splice(0)) d.cleanup() })

async function ledgerWith(records: readonly [string, string, 'granted' | 'denied', string][], config: ConsentConfig = DEFAULT_CONSENT): Promise<ConsentLedger> {
  const dir = tempDir()
  dirs.push(dir)
  const store = new SqliteConsentStore({ path: join(dir.dir, 'consent.db') })
  await store.migrate()
  await store.append(records.map(([identifier, purpose, state, jurisdiction], i): ConsentRecordInput => ({
    identifier, purpose, state, source: 'api', legalBasis: 'consent', jurisdiction, time: i, evidence: { valid: true },
  })))
  return new ConsentLedger({
    store, config, classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }), hash: (v) => v, pseudonymize: (v) => v, audit: async () => 0, now: () => 0,
  })
}

describe('ConsentLedger.aggregateCondition: who an aggregate may include', () => {
  it('analytics (legitimate interest, allowed everywhere until refused): exactly the identifiers whose latest record refuses it', async () => {
    const ledger = await ledgerWith([
      ['user_id:a', 'analytics', 'denied', 'EU'], ['user_id:b', 'analytics', 'denied', 'US'], ['user_id:b', 'analytics', 'granted', 'US'],
      ['user_id:c', 'advertising', 'denied', 'EU'], ['email:d@example.com', 'analytics', 'denied', 'UNKNOWN'],
    ])
    // Paged two at a time: every page is read.
    expect(await ledger.aggregateCondition('analytics', 2)).toEqual({ identifiers: 'none', keys: ['email:d@example.com', 'user_id:a'] })
  })

  it('a consent purpose whose default depends on the jurisdiction: only identifiers allowed on their own record or jurisdiction', async () => {
    const ledger = await ledgerWith([
      ['user_id:eu-yes', 'personalization', 'granted', 'EU'], // granted by record
      ['user_id:us', 'advertising', 'granted', 'US'], // US (opt-out): personalization allowed by its jurisdiction's default
      ['user_id:eu-no', 'advertising', 'granted', 'EU'], // EU (opt-in): personalization refused by default
      ['user_id:nowhere', 'analytics', 'denied', 'UNKNOWN'], // no jurisdiction: could be anywhere, not counted
      ['user_id:us-no', 'personalization', 'denied', 'US'],
    ])
    expect(await ledger.aggregateCondition('personalization')).toEqual({ identifiers: 'all', keys: ['user_id:eu-yes', 'user_id:us'] })
  })

  it('a purpose refused by default everywhere: only the identifiers that granted it', async () => {
    const everywhereOptIn: ConsentConfig = { ...DEFAULT_CONSENT, jurisdictions: { EU: DEFAULT_CONSENT.jurisdictions.EU! }, defaultRegime: 'opt_in' }
    const ledger = await ledgerWith([['user_id:a', 'advertising', 'granted', 'UNKNOWN'], ['user_id:b', 'advertising', 'denied', 'UNKNOWN']], everywhereOptIn)
    expect(await ledger.aggregateCondition('advertising')).toEqual({ identifiers: 'all', keys: ['user_id:a'] })
    await expect(ledger.aggregateCondition('nonsense')).rejects.toThrow(/purpose/)
  })
})

describe('ConsentLedger.aggregateCondition follows the ledger after its first read', () => {
  it('a later call reflects records appended since, in both directions, reading only what changed', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const inner = new SqliteConsentStore({ path: join(dir.dir, 'consent.db') })
    await inner.migrate()
    let fullReads = 0
    const store: ConsentStore = {
      migrate: () => inner.migrate(), append: (r) => inner.append(r), latest: (i) => inner.latest(i), changes: (a, l) => inner.changes(a, l),
      history: (i, o) => inner.history(i, o), close: () => inner.close(),
      identifiers: (options) => {
        fullReads++
        return inner.identifiers(options)
      },
    }
    const append = (identifier: string, state: 'granted' | 'denied', time: number): Promise<number[]> =>
      inner.append([{ identifier, purpose: 'analytics', state, source: 'api', legalBasis: 'consent', jurisdiction: 'EU', time, evidence: { valid: true } }])
    const ledger = new ConsentLedger({
      store, config: DEFAULT_CONSENT, classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }), hash: (v) => v, pseudonymize: (v) => v, audit: async () => 0, now: () => 0,
    })
    await append('user_id:a', 'denied', 1)
    expect(await ledger.aggregateCondition('analytics')).toEqual({ identifiers: 'none', keys: ['user_id:a'] })
    await append('user_id:b', 'denied', 2)
    await append('user_id:a', 'granted', 3) // a changes their mind
    expect(await ledger.aggregateCondition('analytics', 1)).toEqual({ identifiers: 'none', keys: ['user_id:b'] })
    // Concurrent calls queue; each sees what was committed before it.
    const [x, y] = await Promise.all([ledger.aggregateCondition('analytics'), append('user_id:c', 'denied', 4).then(() => ledger.aggregateCondition('analytics'))])
    expect(x.keys).toContain('user_id:b')
    expect(y.keys).toEqual(['user_id:b', 'user_id:c'])
    expect(fullReads).toBe(1) // the whole ledger was read once, by the first call
  })
})
