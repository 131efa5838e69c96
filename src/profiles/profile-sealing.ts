/**
 * @module How profile traits and the timeline are kept in the state when encryption is on (issue 5): sealed with
 * AES-256-GCM under the data key of the profile, in the stored form the identifier values use
 * (src/governance/crypto/sealed-value.ts: `<data key ref>.<data key id>.<base64url envelope>`), so a reader opens a
 * row by the key it names (no key lookup by profile id, and rows moved to a merge winner still open), and erasing the
 * person (which shreds the data keys of every profile merged into them) makes every copy unreadable.
 *
 * - Traits are split per leaf by their classification (`traits.<path>`, the configured Classifier, unknown names
 *   `personal`/`confidential`): leaves of sensitivity `confidential` or `restricted` are sealed together into
 *   `profiles.sealed_traits` (AAD: purpose `tessera/traits/v1`, profile id, key id); `public` and `internal` leaves
 *   stay in the clear `traits` column, so count filters on them keep running in SQL. A leaf is a value that is not a
 *   non-empty object (an array is one leaf at its path), matching how retention classifies traits.
 * - A timeline payload (the whole resolved event) is sealed as one envelope (AAD: purpose `tessera/timeline/v1`,
 *   messageId, key id). A clear payload is JSON of an object, so it starts with `{`; a sealed one starts with the
 *   key ref (base64url), never `{`: that tells old clear rows from sealed ones.
 *
 * With `seal: false` (encryption off, a keyring left from before) nothing new is sealed, and what was sealed still
 * opens; a profile written again is written in clear.
 */
import type { DataKey, Keyring } from '../governance/crypto/keyring.js'
import { openSealedValues, sealValue } from '../governance/crypto/sealed-value.js'
import type { Classifier, Sensitivity } from '../governance/classification.js'
import { TesseraError } from '../core/errors.js'
import type { JsonObject, JsonValue } from '../core/event.js'
import type { FilterCondition, TimelineEntry } from './profile-reader.js'

export const TRAITS_PURPOSE = 'tessera/traits/v1'
export const TIMELINE_PURPOSE = 'tessera/timeline/v1'
const SEALED_SENSITIVITIES: ReadonlySet<Sensitivity> = new Set(['confidential', 'restricted'])

function aad(purpose: string, subject: string, keyId: string): Buffer {
  return Buffer.from(`${purpose}\u0000${subject}\u0000${keyId}`, 'utf8')
}

/** Whether a stored timeline payload is sealed (a clear one is JSON of an object: `{…}`; src/governance/crypto/sealed-value.ts). */
export function isSealedPayload(payload: string): boolean {
  return !payload.startsWith('{')
}

/**
 * A timeline row as the adapters return it: a clear payload parsed, a sealed one handed on as stored for the sealing
 * decorator (src/profiles/sealed-profiles.ts) to open.
 */
export function storedTimelineEntry(base: Omit<TimelineEntry, 'event' | 'sealed'>, payload: string): TimelineEntry {
  return isSealedPayload(payload) ? { ...base, event: {}, sealed: payload } : { ...base, event: JSON.parse(payload) as JsonObject }
}

function isPlainObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Sets `key` as an own property (a `__proto__` key from JSON stays data, never a prototype). */
function define(into: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true })
}

/** Both trees merged: where both hold an object at a key, merged again; otherwise `b`'s leaf is added. */
export function mergeTraitTrees(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(a)) define(out, k, v)
  for (const [k, v] of Object.entries(b)) {
    const here = out[k]
    define(out, k, isPlainObject(here) && isPlainObject(v) ? mergeTraitTrees(here, v) : v)
  }
  return out
}

export interface SplitTraits {
  readonly clear: JsonObject
  /** Null when no leaf is confidential or restricted. */
  readonly sealed: JsonObject | null
}

export interface ProfileSealingOptions {
  readonly keyring: Keyring
  readonly classifier: Classifier
  /** Seal what is written (encryption on); false: write in clear, still open what was sealed before. */
  readonly seal: boolean
}

/** One stored value to open: which row it belongs to (the AAD's subject) and its stored form. */
interface ToOpen { readonly subject: string; readonly stored: string }

export class ProfileSealing {
  readonly #keyring: Keyring
  readonly #classifier: Classifier
  readonly seals: boolean

  constructor(options: ProfileSealingOptions) {
    this.#keyring = options.keyring
    this.#classifier = options.classifier
    this.seals = options.seal
  }

  /** The sensitivity of a trait path (`['address', 'city']`), when it is one that is sealed; null when kept clear. */
  sealedSensitivity(path: readonly string[]): Sensitivity | null {
    const { sensitivity } = this.#classifier.classify(`traits.${path.join('.')}`)
    return SEALED_SENSITIVITIES.has(sensitivity) ? sensitivity : null
  }

  /** The traits split per leaf: clear (public, internal) and sealed (confidential, restricted). */
  splitTraits(traits: JsonObject): SplitTraits {
    const [clear, sealed] = this.#split(traits, [])
    return { clear: clear ?? {}, sealed: sealed ?? null }
  }

  #split(value: JsonObject, path: string[]): [JsonObject | undefined, JsonObject | undefined] {
    let clear: JsonObject | undefined
    let sealed: JsonObject | undefined
    for (const [k, v] of Object.entries(value)) {
      path.push(k)
      if (isPlainObject(v) && Object.keys(v).length > 0) {
        const [c, s] = this.#split(v, path)
        if (c !== undefined) define((clear ??= {}), k, c)
        if (s !== undefined) define((sealed ??= {}), k, s)
      } else if (this.sealedSensitivity(path) !== null) {
        define((sealed ??= {}), k, v)
      } else {
        define((clear ??= {}), k, v)
      }
      path.pop()
    }
    return [clear, sealed]
  }

  /**
   * Each profile's traits as they are to be stored: with sealing on, the confidential and restricted leaves sealed
   * under the profile's data key (one grouped `keysFor` for all of them); with it off, all in clear.
   */
  async sealTraits(profiles: readonly { readonly id: string; readonly traits: JsonObject }[]): Promise<{ traits: JsonObject; sealedTraits: string | undefined }[]> {
    if (!this.seals) return profiles.map((p) => ({ traits: p.traits, sealedTraits: undefined }))
    const split = profiles.map((p) => this.splitTraits(p.traits))
    const ids = [...new Set(profiles.filter((_, n) => split[n]!.sealed !== null).map((p) => p.id))]
    const keys = await this.#keys(ids)
    return profiles.map((p, n) => {
      const { clear, sealed } = split[n]!
      if (sealed === null) return { traits: clear, sealedTraits: undefined }
      const k = keys.get(p.id)!
      return { traits: clear, sealedTraits: sealValue(k, JSON.stringify(sealed), aad(TRAITS_PURPOSE, p.id, k.keyId)) }
    })
  }

  /** The whole traits of stored rows: the sealed part opened and merged in (dropped when its key was shredded). */
  async openTraits(rows: readonly { readonly id: string; readonly traits: JsonObject; readonly sealedTraits?: string | undefined }[]): Promise<JsonObject[]> {
    const opened = await this.#open(rows.map((r) => r.sealedTraits === undefined ? null : { subject: r.id, stored: r.sealedTraits }), TRAITS_PURPOSE)
    return rows.map((r, n) => {
      const text = opened[n]
      return text === undefined || text === null ? r.traits : mergeTraitTrees(r.traits, JSON.parse(text) as JsonObject)
    })
  }

  /** Timeline payloads as they are to be stored: sealed under the data key of the profile each is appended to. */
  async sealPayloads(events: readonly { readonly profileId: string; readonly messageId: string; readonly payload: string }[]): Promise<string[]> {
    if (!this.seals || events.length === 0) return events.map((e) => e.payload)
    const keys = await this.#keys([...new Set(events.map((e) => e.profileId))])
    return events.map((e) => {
      const k = keys.get(e.profileId)!
      return sealValue(k, e.payload, aad(TIMELINE_PURPOSE, e.messageId, k.keyId))
    })
  }

  /**
   * The JSON text of stored payloads: a clear one as it is, a sealed one opened; null where the data key is gone
   * (shredded by an erasure) or the envelope does not open.
   */
  openPayloads(rows: readonly { readonly messageId: string; readonly payload: string }[]): Promise<(string | null)[]> {
    return this.#open(rows.map((r) => ({ subject: r.messageId, stored: r.payload })), TIMELINE_PURPOSE)
      .then((texts) => texts.map((t, n) => t === undefined ? rows[n]!.payload : t))
  }

  /**
   * Refuses a count whose conditions read a sealed trait (it is not in the clear column SQL filters on). The refusal
   * comes from the configured classification of the path alone, never from the data, so it tells nothing about
   * whether any profile holds the trait.
   */
  assertCountable(filter: readonly FilterCondition[]): void {
    if (!this.seals) return
    for (const c of filter) {
      if (c.column !== 'traits') continue
      const sensitivity = this.sealedSensitivity(c.path)
      if (sensitivity === null) continue
      const path = `traits.${c.path.join('.')}`
      throw new TesseraError('TESSERA_VALIDATION',
        `filter: cannot count by ${path}: traits classified ${sensitivity} are stored sealed (encrypted per profile), so a count cannot read them; ` +
        `filter on a public or internal trait instead, or reclassify ${path} in governance.classification.fields if it is not ${sensitivity}`,
        { field: 'filter' })
    }
  }

  async #keys(profileIds: readonly string[]): Promise<Map<string, DataKey>> {
    if (profileIds.length === 0) return new Map()
    const keys = await this.#keyring.keysFor(profileIds)
    return new Map(keys.map((k, n) => [profileIds[n]!, k]))
  }

  /**
   * Opens stored values (one `keysByRef` for all, src/governance/crypto/sealed-value.ts): undefined where there is
   * nothing sealed (null input, or a clear payload), null where it does not open (shredded key: the person was
   * erased; another row's value; not in the sealed form), else the clear text.
   */
  async #open(items: readonly (ToOpen | null)[], purpose: string): Promise<(string | null | undefined)[]> {
    const sealed = items.flatMap((i) => i === null || !isSealedPayload(i.stored) ? [] : [i])
    if (sealed.length === 0) return items.map(() => undefined)
    const texts = await openSealedValues(this.#keyring, sealed.map((i) => ({ stored: i.stored, aad: (keyId: string) => aad(purpose, i.subject, keyId) })))
    let next = 0
    return items.map((i) => i === null || !isSealedPayload(i.stored) ? undefined : texts[next++]!)
  }
}
