/**
 * @module Suppress stage: drops events that carry an identifier of a person erased by a data-subject request
 * (the suppression list, src/governance/dsar/suppression.ts), before identity resolution, so an erased person is
 * not recreated by a new event or by `tessera replay`. It also destroys the data keys of the records it drops (their
 * record keys: crypto-shredding), so a dropped event of an erased person does not stay readable in the event log.
 * Opens the privacy store (and the keyring) on its first batch.
 */
import type { TesseraConfig } from '../../config/config.js'
import type { IdentityRules } from '../../identity/identity-rules.js'
import { extractIdentifiers } from '../../identity/extract-identifiers.js'
import { CLEAR_SCHEME } from '../../identity/identifier-codec.js'
import { identifierKey } from '../../identity/identity-store.js'
import { SuppressionList, loadOrCreateSuppressionKey, suppressionKeyPath } from '../../governance/dsar/suppression.js'
import { openPrivacyStore } from '../../governance/open-privacy.js'
import type { PrivacyStore } from '../../governance/privacy-store.js'
import { openExistingKeyring, openKeyring, type OpenedKeyring } from '../../governance/crypto/open-keyring.js'
import { dataLayout } from '../../app/data-layout.js'
import { live, type BatchContext, type Stage } from '../stage.js'

/** `rules`: the identity rules of the state (their codec keys identifiers as the suppression list stores them). */
export function createSuppressStage(config: TesseraConfig, rules: IdentityRules): Stage {
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
  let keys: Promise<OpenedKeyring | null> | null = null
  const keyring = (): Promise<OpenedKeyring | null> => {
    if (keys === null) {
      const dataDir = dataLayout(config.dataDir).dataDir
      keys = config.governance.encryption.enabled ? openKeyring(config, dataDir) : openExistingKeyring(config, dataDir)
      keys.catch(() => { keys = null }) // retried on the next batch
    }
    return keys
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
      // A pseudonymous state also checks the clear keys: suppressions recorded while its graph was clear (before a
      // replay rebuilt it pseudonymous) name those, and must keep the erased out.
      const both = rules.codec.scheme !== CLEAR_SCHEME
      const keysOf = items.map((i) => extractIdentifiers(i.event, rules).identifiers.flatMap((x) => (both ? [x.key, identifierKey(x.type, x.clear)] : [x.key])))
      const suppressed = await suppression.suppressedAmong([...new Set(keysOf.flat())])
      if (suppressed.size === 0) return
      const subjects: string[] = []
      items.forEach((item, n) => {
        if (keysOf[n]!.some((k) => suppressed.has(k))) {
          item.dropped = 'suppressed'
          batch.counts.suppressed = (batch.counts.suppressed ?? 0) + 1
          subjects.push(item.record.key ?? '')
        }
      })
      // Not for records without a key: their shared data key also seals other people's unkeyed records.
      const keyed = subjects.filter((s) => s !== '')
      if (keyed.length > 0) await (await keyring())?.keyring.shred(keyed)
    },
    async close(): Promise<void> {
      const opened = store
      const openedKeys = keys
      store = list = keys = null
      if (opened) await (await opened.catch(() => null))?.close()
      if (openedKeys) await (await openedKeys.catch(() => null))?.close()
    },
  }
}
