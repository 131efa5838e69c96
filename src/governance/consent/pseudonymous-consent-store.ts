/**
 * @module The consent ledger's store as a pseudonymous state keeps it: a decorator of the ConsentStore port that
 * stores each record under the identifier's pseudonymous key (`email:~<HMAC>`, the identity graph's key, from the
 * state's identifier codec) and gives records back under the clear `type:value` the caller asked with, so the ledger
 * and its callers are unchanged and an erased person is no longer named by the ledger (their tombstone included).
 *
 * Records written before the state was pseudonymised name clear keys: reads ask for both forms, so an opt-out recorded
 * then keeps applying (a refusal is never lost by a change of key scheme).
 */
import { splitIdentifierKey } from '../../identity/identity-store.js'
import type { IdentifierCodec } from '../../identity/identifier-codec.js'
import type { ConsentRecordInput, StoredConsentRecord } from './consent-record.js'
import type { ConsentStore, LedgerChanges, LedgerCursor } from './consent-store.js'

export class PseudonymousConsentStore implements ConsentStore {
  readonly #inner: ConsentStore
  readonly #codec: IdentifierCodec

  constructor(inner: ConsentStore, codec: IdentifierCodec) {
    this.#inner = inner
    this.#codec = codec
  }

  #stored(identifier: string): string {
    const at = identifier.indexOf(':')
    if (at < 1 || this.#codec.isPseudonymous(identifier)) return identifier
    const { type, value } = splitIdentifierKey(identifier)
    return this.#codec.storedKey(type, value)
  }

  /** stored or clear key → the clear identifier asked for. */
  #asked(identifiers: readonly string[]): Map<string, string> {
    const asked = new Map<string, string>()
    for (const id of identifiers) {
      asked.set(id, id)
      asked.set(this.#stored(id), id)
    }
    return asked
  }

  migrate(): Promise<void> {
    return this.#inner.migrate()
  }

  append(records: readonly ConsentRecordInput[]): Promise<number[]> {
    return this.#inner.append(records.map((r) => ({ ...r, identifier: this.#stored(r.identifier) })))
  }

  async latest(identifiers: readonly string[]): Promise<StoredConsentRecord[]> {
    const asked = this.#asked(identifiers)
    const records = await this.#inner.latest([...asked.keys()])
    // Per identifier and purpose the latest wins; a clear-era record and a newer pseudonymous one both come back,
    // in seq order, and the ledger keeps the later.
    return records.map((r) => ({ ...r, identifier: asked.get(r.identifier) ?? r.identifier }))
  }

  /**
   * The ledger's identifiers as stored: pseudonymous keys (and clear ones from before), which `latest` takes back
   * unchanged. For aggregates over the whole ledger (ConsentLedger.aggregateCondition), joined to the graph's keys.
   */
  identifiers(options: { readonly limit: number; readonly after?: string }): Promise<string[]> {
    return this.#inner.identifiers(options)
  }

  /** The changed identifiers as stored, like {@link identifiers}. */
  changes(after: LedgerCursor | null, limit: number): Promise<LedgerChanges> {
    return this.#inner.changes(after, limit)
  }

  async history(identifier: string, options: { readonly limit: number; readonly afterSeq?: number }): Promise<StoredConsentRecord[]> {
    const stored = this.#stored(identifier)
    const [pseudonymous, clear] = await Promise.all([
      this.#inner.history(stored, options),
      stored === identifier ? Promise.resolve([]) : this.#inner.history(identifier, options),
    ])
    return [...pseudonymous, ...clear].sort((a, b) => a.seq - b.seq).slice(0, options.limit).map((r) => ({ ...r, identifier }))
  }

  close(): Promise<void> {
    return this.#inner.close()
  }
}
