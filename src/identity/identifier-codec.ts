/**
 * @module How identifier values are stored in the state (identity graph, consent ledger): in clear (`email:ann@…`,
 * encryption off and never on), or pseudonymous: `email:~<HMAC-SHA256 of the type and value under the keyring's
 * identifier key>`, the type kept clear (limits and rules are per type). The clear value is then kept only sealed
 * (AES-256-GCM, src/governance/crypto/envelope.ts) under the data key of the profile the identifier first joined,
 * so an allowed admin read can show it, and erasing the person (which shreds their profiles' data keys) makes it
 * unreadable even where a copy of the row survives.
 *
 * Real-time matching's blocking keys (identity_match_keys) are pseudonymised the same way, under the type
 * `~blocking` (src/identity/resolve-batch.ts). Scheme `hmac-sha256-132`: 132-bit pseudonyms of identifiers and of
 * blocking keys. Its match records (identity_match_records: a profile's normalised compared traits, names, dates of
 * birth, addresses) are sealed whole under the profile's data key ({@link IdentifierCodec.sealMatchRecords}).
 *
 * Pseudonymising happens where identifiers are extracted (extract-identifiers.ts, after normalisation and the
 * blocked-value check), so the resolver, the guards and the stores only see stored keys; every place that takes an
 * identifier from a person maps it with {@link IdentifierCodec.storedKey}, every place that shows one maps it back
 * with {@link IdentifierCodec.reveal}.
 */
import type { Keyring } from '../governance/crypto/keyring.js'
import { openSealedValues, sealValue } from '../governance/crypto/sealed-value.js'
import { identifierKey, splitIdentifierKey, type IdentifierKey, type StoredMatchRecord } from './identity-store.js'

/** The first character of a pseudonymous stored value. */
export const PSEUDONYM_MARK = '~'
/** A stored value that is a pseudonym: the mark and 22 base64url characters (132 bits of HMAC-SHA256). */
const PSEUDONYMOUS_VALUE = /^~[A-Za-z0-9_-]{22}$/

/** The scheme a state records (table `state_meta`): `clear`, or `hmac-sha256-132:<fingerprint of the identifier key>`. */
export type IdentifierScheme = string
export const CLEAR_SCHEME: IdentifierScheme = 'clear'

/** A clear identifier value sealed for storage, by stored key. */
export interface SealedIdentifierValue {
  readonly key: IdentifierKey
  /** `<data key ref>.<data key id>.<base64url envelope>`. */
  readonly sealed: string
}

export interface IdentifierCodec {
  readonly scheme: IdentifierScheme
  /** The stored form of a normalised value of `type`: the value itself (clear) or `~` and its HMAC. */
  storedValue(type: string, value: string): string
  /** `type:storedValue(type, value)`. */
  storedKey(type: string, value: string): IdentifierKey
  /** Seals the clear values of new stored keys under the data key of `profileId` (nothing in clear mode). */
  seal(entries: readonly { readonly key: IdentifierKey; readonly value: string; readonly profileId: string }[]): Promise<SealedIdentifierValue[]>
  /**
   * The clear `type:value` key of each stored key whose value can be shown: a clear key is itself; a pseudonymous one
   * needs its sealed value and the data key that sealed it (absent when either is gone: erased, shredded).
   */
  reveal(rows: readonly { readonly key: IdentifierKey; readonly sealed: string | null }[]): Promise<Map<IdentifierKey, IdentifierKey>>
  /** Whether a stored key is pseudonymous. */
  isPseudonymous(key: IdentifierKey): boolean
  /**
   * The stored form of real-time matching's match records (JSON of normalised traits), in input order: as given
   * (clear), or `<data key ref>.<data key id>.<base64url envelope>` sealed under the data key of the record's profile.
   */
  sealMatchRecords(records: readonly StoredMatchRecord[]): Promise<string[]>
  /**
   * The JSON of stored match records, in input order, with one key lookup for all of them: a clear record (JSON,
   * written before records were sealed, or by a clear state) is itself; a sealed one is opened, or null (no record)
   * when its data key is gone (the person was erased) or it does not open (altered, or another profile's record).
   */
  openMatchRecords(records: readonly StoredMatchRecord[]): Promise<(string | null)[]>
}

/** Keys as today: `type:value` in clear. */
export const CLEAR_IDENTIFIERS: IdentifierCodec = Object.freeze({
  scheme: CLEAR_SCHEME,
  storedValue: (_type: string, value: string) => value,
  storedKey: (type: string, value: string) => identifierKey(type, value),
  seal: () => Promise.resolve([]),
  reveal: (rows: readonly { readonly key: IdentifierKey }[]) => Promise.resolve(new Map(rows.map((r) => [r.key, r.key]))),
  isPseudonymous: () => false,
  sealMatchRecords: (records: readonly StoredMatchRecord[]) => Promise.resolve(records.map((r) => r.fields)),
  // A clear state never seals, so every record is JSON.
  openMatchRecords: (records: readonly StoredMatchRecord[]) => Promise.resolve(records.map((r) => r.fields)),
})

function valueAad(key: IdentifierKey, keyId: string): Buffer {
  return Buffer.from(`tessera/identifier-value/v1\u0000${key}\u0000${keyId}`, 'utf8')
}

function matchRecordAad(profileId: string, keyId: string): Buffer {
  return Buffer.from(`tessera/match-record/v1\u0000${profileId}\u0000${keyId}`, 'utf8')
}

/**
 * Whether a stored match record is sealed. A clear one is a JSON array (`[`); a sealed one starts with its data key
 * ref, base64url, which never contains `[`.
 */
export function isSealedMatchRecord(fields: string): boolean {
  return fields.charCodeAt(0) !== 0x5b
}

/** Pseudonymous keys under the keyring's identifier key; clear values sealed under profiles' data keys. */
export class PseudonymousIdentifiers implements IdentifierCodec {
  readonly scheme: IdentifierScheme
  readonly #keyring: Keyring

  constructor(keyring: Keyring) {
    this.#keyring = keyring
    this.scheme = `hmac-sha256-132:${keyring.identifierKeyFingerprint()}`
  }

  storedValue(type: string, value: string): string {
    return PSEUDONYM_MARK + this.#keyring.identifierPseudonym(type, value)
  }

  storedKey(type: string, value: string): IdentifierKey {
    return identifierKey(type, this.storedValue(type, value))
  }

  isPseudonymous(key: IdentifierKey): boolean {
    return PSEUDONYMOUS_VALUE.test(key.slice(key.indexOf(':') + 1))
  }

  async seal(entries: readonly { readonly key: IdentifierKey; readonly value: string; readonly profileId: string }[]): Promise<SealedIdentifierValue[]> {
    if (entries.length === 0) return []
    // One key per profile, from the keyring's cache: the profile's data key also seals its events.resolved records.
    const profiles = [...new Set(entries.map((e) => e.profileId))]
    const keys = new Map((await this.#keyring.keysFor(profiles)).map((k, n) => [profiles[n]!, k]))
    return entries.map((e) => {
      const k = keys.get(e.profileId)!
      return { key: e.key, sealed: sealValue(k, e.value, valueAad(e.key, k.keyId)) }
    })
  }

  async reveal(rows: readonly { readonly key: IdentifierKey; readonly sealed: string | null }[]): Promise<Map<IdentifierKey, IdentifierKey>> {
    const out = new Map<IdentifierKey, IdentifierKey>()
    const sealed: { key: IdentifierKey; stored: string }[] = []
    for (const row of rows) {
      if (!this.isPseudonymous(row.key)) out.set(row.key, row.key)
      else if (row.sealed !== null) sealed.push({ key: row.key, stored: row.sealed })
    }
    // One key read for all; a value whose key was shredded (the person was erased) stays unrevealed.
    const values = await openSealedValues(this.#keyring, sealed.map((r) => ({ stored: r.stored, aad: (keyId) => valueAad(r.key, keyId) })))
    sealed.forEach((r, n) => {
      const value = values[n]
      if (value !== null && value !== undefined) out.set(r.key, identifierKey(splitIdentifierKey(r.key).type, value))
    })
    return out
  }

  async sealMatchRecords(records: readonly StoredMatchRecord[]): Promise<string[]> {
    if (records.length === 0) return []
    // The keyring's cache holds these keys already: the batch's events sealed their identifiers or log records.
    const keys = await this.#keyring.keysFor(records.map((r) => r.profileId))
    return records.map((r, n) => sealValue(keys[n]!, r.fields, matchRecordAad(r.profileId, keys[n]!.keyId)))
  }

  async openMatchRecords(records: readonly StoredMatchRecord[]): Promise<(string | null)[]> {
    const out: (string | null)[] = records.map((r) => (isSealedMatchRecord(r.fields) ? null : r.fields))
    const sealed = records.flatMap((r, n) => (isSealedMatchRecord(r.fields) ? [n] : []))
    if (sealed.length === 0) return out
    // One key lookup for the whole batch of candidates (cached keys cost a map lookup each). Null: the key was
    // shredded (the person was erased), or the record does not authenticate (altered, or copied onto another profile).
    const opened = await openSealedValues(this.#keyring, sealed.map((n) => ({
      stored: records[n]!.fields, aad: (keyId: string) => matchRecordAad(records[n]!.profileId, keyId),
    })))
    sealed.forEach((n, i) => {
      out[n] = opened[i]!
    })
    return out
  }
}
