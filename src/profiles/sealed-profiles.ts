/**
 * @module The one place profiles are sealed and opened (src/profiles/profile-sealing.ts): decorators around the
 * ProfileStore port (written by the pipeline, unmerge and review inside a state transaction), the StateBackend that
 * hands it out, and the ProfileReader (admin API, DSAR export, `tessera match-train`). The SQL adapters stay dumb:
 * they store `traits`, `sealedTraits` and `payload` as given and return them as stored.
 */
import type { JsonObject } from '../core/event.js'
import type { StateBackend, StateTransaction } from '../storage/state-backend.js'
import type { IdentityEdge, IdentifierNode, MergeRecord, RejectedIdentifier } from '../identity/identity-store.js'
import type { FilterCondition, IdentifierCondition, ProfileReader, ProfileTraitsRow, TimelineCursor, TimelineEntry, TimelinePage } from './profile-reader.js'
import type { ProfileRecord, ProfileStore, TimelineEvent } from './profile-store.js'
import type { ProfileSealing } from './profile-sealing.js'

/** Stored records with their sealed traits opened into `traits` (and no `sealedTraits` left). */
async function openRecords(sealing: ProfileSealing, records: readonly ProfileRecord[]): Promise<ProfileRecord[]> {
  if (!records.some((r) => r.sealedTraits !== undefined)) return [...records]
  const traits = await sealing.openTraits(records)
  return records.map((r, n) => {
    const { sealedTraits: _stored, ...rest } = r
    return { ...rest, traits: traits[n]! }
  })
}

export class SealingProfileStore implements ProfileStore {
  readonly #inner: ProfileStore
  readonly #sealing: ProfileSealing

  constructor(inner: ProfileStore, sealing: ProfileSealing) {
    this.#inner = inner
    this.#sealing = sealing
  }

  async get(ids: readonly string[]): Promise<Map<string, ProfileRecord>> {
    const stored = await this.#inner.get(ids)
    const opened = await openRecords(this.#sealing, [...stored.values()])
    return new Map(opened.map((r) => [r.id, r]))
  }

  async put(profiles: readonly ProfileRecord[]): Promise<void> {
    const sealed = await this.#sealing.sealTraits(profiles)
    await this.#inner.put(profiles.map((p, n) => {
      const { sealedTraits: _old, ...rest } = p
      const s = sealed[n]!
      return s.sealedTraits === undefined ? { ...rest, traits: s.traits } : { ...rest, traits: s.traits, sealedTraits: s.sealedTraits }
    }))
  }

  async appendEvents(events: readonly TimelineEvent[]): Promise<void> {
    const payloads = await this.#sealing.sealPayloads(events)
    await this.#inner.appendEvents(events.map((e, n) => ({ ...e, payload: payloads[n]! })))
  }

  moveEvents(moves: readonly { readonly from: string; readonly to: string }[]): Promise<void> {
    return this.#inner.moveEvents(moves)
  }

  trimEvents(profileIds: readonly string[], keep: number): Promise<void> {
    return this.#inner.trimEvents(profileIds, keep)
  }
}

/** The reader with traits and timeline payloads opened; counts on sealed traits refused. */
export class SealedProfileReader implements ProfileReader {
  readonly #inner: ProfileReader
  readonly #sealing: ProfileSealing

  constructor(inner: ProfileReader, sealing: ProfileSealing) {
    this.#inner = inner
    this.#sealing = sealing
  }

  async profile(id: string): Promise<ProfileRecord | null> {
    const p = await this.#inner.profile(id)
    return p === null ? null : (await openRecords(this.#sealing, [p]))[0]!
  }

  /** Entries whose payload no longer opens (their data key was shredded by an erasure) are left out of the page. */
  async events(profileId: string, options: { limit: number; after?: TimelineCursor }): Promise<TimelinePage> {
    const page = await this.#inner.events(profileId, options)
    if (!page.events.some((e) => e.sealed !== undefined)) return page
    const texts = await this.#sealing.openPayloads(page.events.map((e) => ({ messageId: e.messageId, payload: e.sealed ?? '{}' })))
    const events: TimelineEntry[] = []
    page.events.forEach((e, n) => {
      if (e.sealed === undefined) return void events.push(e)
      const text = texts[n]
      if (text === null || text === undefined) return
      const { sealed: _stored, ...rest } = e
      events.push({ ...rest, event: JSON.parse(text) as JsonObject })
    })
    return { events, next: page.next }
  }

  async countProfiles(filter: readonly FilterCondition[], consent?: readonly IdentifierCondition[]): Promise<number> {
    this.#sealing.assertCountable(filter)
    return this.#inner.countProfiles(filter, consent)
  }

  async profileTraits(options: { readonly limit: number; readonly afterId?: string }): Promise<ProfileTraitsRow[]> {
    const rows = await this.#inner.profileTraits(options)
    if (!rows.some((r) => r.sealedTraits !== undefined)) return rows
    const traits = await this.#sealing.openTraits(rows)
    return rows.map((r, n) => ({ id: r.id, traits: traits[n]! }))
  }

  canonicalId(id: string): Promise<string | null> { return this.#inner.canonicalId(id) }
  profileIdByIdentifier(type: string, value: string): Promise<string | null> { return this.#inner.profileIdByIdentifier(type, value) }
  identities(profileId: string): Promise<readonly IdentifierNode[]> { return this.#inner.identities(profileId) }
  edges(profileId: string): Promise<readonly IdentityEdge[]> { return this.#inner.edges(profileId) }
  merges(profileId: string): Promise<readonly MergeRecord[]> { return this.#inner.merges(profileId) }
  rejections(profileId: string): Promise<readonly RejectedIdentifier[]> { return this.#inner.rejections(profileId) }
  identifierValues(keys: readonly string[]): Promise<Map<string, string>> { return this.#inner.identifierValues(keys) }
  stats(): Promise<{ profiles: number; identifiers: number; events: number; merges: number }> { return this.#inner.stats() }
  close(): Promise<void> { return this.#inner.close() }
}

/** The StateBackend whose transactions write profiles through {@link SealingProfileStore}; its reader opens them. */
class SealedStateBackend implements StateBackend {
  readonly #inner: StateBackend
  readonly #sealing: ProfileSealing

  constructor(inner: StateBackend, sealing: ProfileSealing) {
    this.#inner = inner
    this.#sealing = sealing
  }

  get kind(): string { return this.#inner.kind }
  migrate(): Promise<void> { return this.#inner.migrate() }

  /**
   * The transaction's stores with the profiles written and read through {@link SealingProfileStore}, and the two other
   * reads of timeline payloads (an unmerge's rebuild: `identity.timeline`; trimmed events: `control.takeTrimmed`)
   * opened, so the stages and the unmerge only ever see clear payloads.
   */
  transaction<T>(work: (tx: StateTransaction) => Promise<T>): Promise<T> {
    const sealing = this.#sealing
    return this.#inner.transaction((tx) => work({
      ...tx,
      profiles: new SealingProfileStore(tx.profiles, sealing),
      identity: overriding(tx.identity, 'timeline', async (profileIds: readonly string[]) => {
        const rows = await tx.identity.timeline(profileIds)
        const texts = await sealing.openPayloads(rows)
        // A row whose data key was shredded (an erasure) cannot be re-attributed: it is left out.
        return rows.flatMap((r, n) => texts[n] === null ? [] : [{ ...r, payload: texts[n]! }])
      }),
      control: overriding(tx.control, 'takeTrimmed', async (profileIds: readonly string[], keep: number) => {
        const rows = await tx.control.takeTrimmed(profileIds, keep)
        const texts = await sealing.openPayloads(rows)
        // Trimmed rows are counted by their clear columns; an unreadable payload only loses its trait times.
        return rows.map((r, n) => ({ ...r, payload: texts[n] ?? '{}' }))
      }),
    }))
  }

  reader(): ProfileReader { return new SealedProfileReader(this.#inner.reader(), this.#sealing) }
  identifierScheme(proposed: string): Promise<string> { return this.#inner.identifierScheme(proposed) }
  reset(): Promise<void> { return this.#inner.reset() }
  close(): Promise<void> { return this.#inner.close() }
}

/** `inner` with one method replaced (the others called on `inner` itself: adapters keep private fields). */
function overriding<T extends object, K extends keyof T>(inner: T, key: K, replacement: T[K]): T {
  return new Proxy(inner, {
    get(target, property) {
      if (property === key) return replacement
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** The state with profiles sealed (null sealing: no keyring, the state as it is). */
export function sealedState(inner: StateBackend, sealing: ProfileSealing | null): StateBackend {
  return sealing === null ? inner : new SealedStateBackend(inner, sealing)
}

/** The reader with profiles opened (null sealing: no keyring, the reader as it is). */
export function sealedReader(inner: ProfileReader, sealing: ProfileSealing | null): ProfileReader {
  return sealing === null ? inner : new SealedProfileReader(inner, sealing)
}
