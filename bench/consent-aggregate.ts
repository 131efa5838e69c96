/**
 * @module Measures what the consent part of a private count costs (not part of the test suite):
 * `npx tsx bench/consent-aggregate.ts [--identifiers N]`. A SQLite consent ledger with N identifiers (one in ten
 * refuses analytics), then ConsentLedger.aggregateCondition('analytics'): the first call (reads the whole ledger)
 * and, REPEATS times, a call after 100 new records (reads only what changed), against a fresh ledger re-reading the
 * whole ledger each time (what every count did before). Medians; the answers are checked to agree.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createClassifier, SAFE_DEFAULT } from '../src/governance/classification.js'
import { DEFAULT_CONSENT } from '../src/governance/consent/consent-config.js'
import { ConsentLedger } from '../src/governance/consent/consent-ledger.js'
import type { ConsentRecordInput } from '../src/governance/consent/consent-record.js'
import { SqliteConsentStore } from '../src/storage/sqlite/consent-store.js'

const REPEATS = 7
const { values } = parseArgs({ options: { identifiers: { type: 'string', default: '200000' } } })
const identifiers = Number(values.identifiers)

const record = (i: number, time: number): ConsentRecordInput => ({
  identifier: `user_id:u${i}`, purpose: 'analytics', state: i % 10 === 0 ? 'denied' : 'granted', source: 'api', legalBasis: 'consent',
  jurisdiction: 'EU', time, evidence: { valid: true },
})

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-consent-'))
try {
  const store = new SqliteConsentStore({ path: join(dir, 'consent.db') })
  await store.migrate()
  for (let i = 0; i < identifiers; i += 10_000) {
    await store.append(Array.from({ length: Math.min(10_000, identifiers - i) }, (_, k) => record(i + k, i + k)))
  }
  const ledger = (): ConsentLedger => new ConsentLedger({
    store, config: DEFAULT_CONSENT, classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }),
    hash: (v) => v, pseudonymize: (v) => v, audit: async () => 0, now: () => 0,
  })
  const following = ledger()
  let t = performance.now()
  await following.aggregateCondition('analytics')
  const first = performance.now() - t
  const later: number[] = []
  const full: number[] = []
  for (let r = 0; r < REPEATS; r++) {
    // Every tenth of the new records a refusal; identifiers past the ledger's and some already in it.
    await store.append(Array.from({ length: 100 }, (_, k) => record(r % 2 === 0 ? identifiers + r * 100 + k : r * 100 + k * 7, identifiers + r * 100 + k)))
    t = performance.now()
    const a = await following.aggregateCondition('analytics')
    later.push(performance.now() - t)
    t = performance.now()
    const b = await ledger().aggregateCondition('analytics')
    full.push(performance.now() - t)
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('the followed condition differs from a full read')
  }
  console.log(JSON.stringify({
    identifiers, objectors: (await following.aggregateCondition('analytics')).keys.length,
    first_ms: Math.round(first), later_ms_p50: Number(median(later).toFixed(2)), full_ms_p50: Math.round(median(full)),
    ratio_full_over_later: Math.round(median(full) / median(later)),
  }))
  await store.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
