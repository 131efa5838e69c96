/**
 * @module Suppress stage: drops events that carry an identifier of a person erased by a data-subject request
 * (the suppression list, src/governance/dsar/suppression.ts), before identity resolution, so an erased person is
 * not recreated by a new event or by `tessera replay`. Opens the privacy store on its first batch.
 */
import type { TesseraConfig } from '../../config/config.js'
import { compileIdentityRules } from '../../identity/identity-rules.js'
import { extractIdentifiers } from '../../identity/extract-identifiers.js'
import { SuppressionList, loadOrCreateSuppressionKey, suppressionKeyPath } from '../../governance/dsar/suppression.js'
import { openPrivacyStore } from '../../governance/open-privacy.js'
import type { PrivacyStore } from '../../governance/privacy-store.js'
import { live, type BatchContext, type Stage } from '../stage.js'

export function createSuppressStage(config: TesseraConfig): Stage {
  const rules = compileIdentityRules(config.identity.types, config.identity.defaultPhoneRegion, config.identity.maxProfileSize)
  let store: Promise<PrivacyStore> | null = null
  let list: Promise<SuppressionList> | null = null
  const open = (): Promise<SuppressionList> => {
    if (list === null) {
      const opening = openPrivacyStore(config, config.dataDir)
      store = opening
      list = opening.then((s) => new SuppressionList(s, loadOrCreateSuppressionKey(suppressionKeyPath(config))))
      list.catch(() => { list = null; store = null }) // retried on the next batch
    }
    return list
  }
  return {
    name: 'suppress',
    policy: 'ensure',
    async run(batch: BatchContext): Promise<void> {
      const items = live(batch.items)
      if (items.length === 0) return
      const suppression = await open()
      // One cheap query per batch while nobody is erased, instead of hashing every identifier of every event.
      if (await suppression.isEmpty()) return
      const keysOf = items.map((i) => extractIdentifiers(i.event, rules).identifiers.map((x) => x.key))
      const suppressed = await suppression.suppressedAmong([...new Set(keysOf.flat())])
      if (suppressed.size === 0) return
      items.forEach((item, n) => {
        if (keysOf[n]!.some((k) => suppressed.has(k))) {
          item.dropped = 'suppressed'
          batch.counts.suppressed = (batch.counts.suppressed ?? 0) + 1
        }
      })
    },
    async close(): Promise<void> {
      const opened = store
      store = list = null
      if (opened) await (await opened.catch(() => null))?.close()
    },
  }
}
