/**
 * @module The ProfileReader the admin API, the DSAR export and the CLI read through when the state is pseudonymous:
 * it maps an identifier a person gives to its stored key (lookups), and the stored keys it returns back to their clear
 * `type:value` (identities, links, refusals), opening the sealed values under the profiles' data keys. A key whose
 * value cannot be opened any more (its data key was shredded by an erasure) is shown as stored (`email:~…`).
 * Everything else passes through.
 */
import type { IdentifierCodec } from '../identity/identifier-codec.js'
import { splitIdentifierKey, type IdentifierKey, type IdentifierNode, type IdentityEdge, type MergeRecord, type RejectedIdentifier } from '../identity/identity-store.js'
import type { FilterCondition, IdentifierCondition, ProfileReader, TimelineCursor, TimelinePage } from './profile-reader.js'
import type { ProfileRecord } from './profile-store.js'
import type { JsonObject } from '../core/event.js'

export class RevealingProfileReader implements ProfileReader {
  readonly #inner: ProfileReader
  readonly #codec: IdentifierCodec

  constructor(inner: ProfileReader, codec: IdentifierCodec) {
    this.#inner = inner
    this.#codec = codec
  }

  /** Clear keys of these stored keys (a key that cannot be opened maps to itself). */
  #reveal(keys: readonly IdentifierKey[]): Promise<(key: IdentifierKey) => IdentifierKey> {
    return revealKeys(this.#inner, this.#codec, keys)
  }

  /** A key as the consent ledger names it, as the graph stores it (a pseudonymous key stays as it is). */
  #storedKey(key: IdentifierKey): IdentifierKey {
    if (this.#codec.isPseudonymous(key)) return key
    const { type, value } = splitIdentifierKey(key)
    return this.#codec.storedKey(type, value)
  }

  profileIdByIdentifier(type: string, value: string): Promise<string | null> {
    return this.#inner.profileIdByIdentifier(type, this.#codec.storedValue(type, value))
  }

  async identities(profileId: string): Promise<readonly IdentifierNode[]> {
    const nodes = await this.#inner.identities(profileId)
    const clear = await this.#reveal(nodes.map((n) => n.key))
    return nodes.map((n) => {
      const key = clear(n.key)
      return { ...n, key, value: splitIdentifierKey(key).value }
    })
  }

  async edges(profileId: string): Promise<readonly IdentityEdge[]> {
    const edges = await this.#inner.edges(profileId)
    const clear = await this.#reveal(edges.flatMap((e) => [e.from, e.to]))
    return edges.map((e) => ({ ...e, from: clear(e.from), to: clear(e.to) }))
  }

  async rejections(profileId: string): Promise<readonly RejectedIdentifier[]> {
    const rejected = await this.#inner.rejections(profileId)
    const clear = await this.#reveal(rejected.map((r) => r.key))
    return rejected.map((r) => ({ ...r, key: clear(r.key) }))
  }

  identifierValues(keys: readonly string[]): Promise<Map<string, string>> {
    return this.#inner.identifierValues(keys)
  }

  profile(id: string): Promise<ProfileRecord | null> {
    return this.#inner.profile(id)
  }

  canonicalId(id: string): Promise<string | null> {
    return this.#inner.canonicalId(id)
  }

  merges(profileId: string): Promise<readonly MergeRecord[]> {
    return this.#inner.merges(profileId)
  }

  events(profileId: string, options: { limit: number; after?: TimelineCursor }): Promise<TimelinePage> {
    return this.#inner.events(profileId, options)
  }

  /** The consent conditions name identifiers as the consent ledger keeps them (`type:value`): mapped to stored keys. */
  countProfiles(filter: readonly FilterCondition[], consent: readonly IdentifierCondition[] = []): Promise<number> {
    const stored = consent.map((c) => ({
      identifiers: c.identifiers, keys: c.keys.map((k) => this.#storedKey(k)),
    }))
    return this.#inner.countProfiles(filter, stored)
  }

  profileTraits(options: { readonly limit: number; readonly afterId?: string }): Promise<{ readonly id: string; readonly traits: JsonObject }[]> {
    return this.#inner.profileTraits(options)
  }

  stats(): Promise<{ profiles: number; identifiers: number; events: number; merges: number }> {
    return this.#inner.stats()
  }

  close(): Promise<void> {
    return this.#inner.close()
  }
}

/** The clear keys of stored keys read elsewhere (an unmerge's parts, the quarantine list); unreadable ones stay as stored. */
export async function revealKeys(reader: ProfileReader, codec: IdentifierCodec, keys: readonly IdentifierKey[]): Promise<(key: IdentifierKey) => IdentifierKey> {
  if (codec.scheme === 'clear') return (key) => key
  const unique = [...new Set(keys)]
  const sealed = await reader.identifierValues(unique.filter((k) => codec.isPseudonymous(k)))
  const clear = await codec.reveal(unique.map((key) => ({ key, sealed: sealed.get(key) ?? null })))
  return (key) => clear.get(key) ?? key
}

/** The reader to show identifiers through: the store's own in a clear state. */
export function revealingReader(inner: ProfileReader, codec: IdentifierCodec): ProfileReader {
  return codec.scheme === 'clear' ? inner : new RevealingProfileReader(inner, codec)
}
