/**
 * @module Resolve-identity stage: attaches each event to a profile through the deterministic identity graph (and the
 * real-time matcher). A supernode that the batch reveals is quarantined from the event that crossed the threshold on,
 * within the same batch.
 */
import type { IdentityRules } from '../../identity/identity-rules.js'
import type { RealtimeMatching } from '../../matching/realtime.js'
import { resolveBatch, type BatchResolution } from '../../identity/resolve-batch.js'
import type { QuarantineRecord } from '../../identity/identity-store.js'

/** Re-resolutions of one batch for the supernodes it reveals (each adds at least one quarantined key). */
const MAX_QUARANTINE_ROUNDS = 4
import { live, type BatchContext, type Stage } from '../stage.js'

export interface ResolveIdentityOptions {
  /**
   * Where a merge finds the profiles' ages (the older one wins): their profile rows (inline profile updates), or
   * their identifiers' first-seen times (partitioned updates, where rows are written later by their owners).
   */
  readonly profileAges: 'profiles' | 'identifiers'
  /** Real-time probabilistic matching (identity.matching), when enabled. */
  readonly matching?: RealtimeMatching | null
}

export function createResolveIdentityStage(rules: IdentityRules, options: ResolveIdentityOptions = { profileAges: 'profiles' }): Stage {
  return {
    name: 'resolve-identity',
    policy: 'ensure',
    async run(batch: BatchContext): Promise<void> {
      const items = live(batch.items)
      const resolve = (quarantined?: ReadonlyMap<string, number>): Promise<BatchResolution> => resolveBatch(
        items.map((i) => i.event),
        rules,
        batch.tx.identity,
        options.profileAges === 'identifiers' ? null
          : async (ids) => new Map([...(await batch.tx.profiles.get(ids))].map(([id, p]) => [id, p.createdAt])),
        options.matching ?? null,
        quarantined,
      )
      let { resolutions, changes, clearValues } = await resolve()
      // A supernode this batch revealed is quarantined from the event that crossed the threshold on, for the rest of
      // the batch too: resolve it again (resolution only reads the store; nothing was written yet). Rare, and
      // bounded: each round adds at least one key.
      const found: QuarantineRecord[] = []
      const from = new Map<string, number>()
      for (let round = 0; round < MAX_QUARANTINE_ROUNDS && (changes.quarantines?.length ?? 0) > 0; round++) {
        for (const q of changes.quarantines!) {
          found.push(q)
          const at = items.findIndex((i) => i.event.messageId === q.messageId)
          from.set(q.key, at < 0 ? 0 : at)
        }
        ;({ resolutions, changes, clearValues } = await resolve(from))
      }
      if (found.length > 0) changes = { ...changes, quarantines: [...found, ...(changes.quarantines ?? [])] }
      items.forEach((item, n) => {
        const r = resolutions[n]!
        item.profileId = r.profileId
        item.merged = r.merged
      })
      // The clear value of every key stored for the first time, sealed under its profile's data key (pseudonymous
      // state; nothing in clear mode): new identifiers, and refused ones (a rejection names a key that is no node).
      const toSeal = new Map<string, { key: string; value: string; profileId: string }>()
      for (const n of changes.nodes) toSeal.set(n.key, { key: n.key, value: clearValues.get(n.key) ?? '', profileId: n.profileId })
      for (const r of changes.rejections) if (!toSeal.has(r.key)) toSeal.set(r.key, { key: r.key, value: clearValues.get(r.key) ?? '', profileId: r.profileId })
      const values = await rules.codec.seal([...toSeal.values()].filter((e) => e.value !== ''))
      await batch.tx.identity.apply(values.length > 0 ? { ...changes, values } : changes)
      batch.counts.merges = (batch.counts.merges ?? 0) + changes.merges.length
      batch.counts.rejectedIdentifiers = (batch.counts.rejectedIdentifiers ?? 0) + changes.rejections.length
      if (options.matching) {
        const scored = changes.edges.filter((e) => e.rule === 'probabilistic').length
        batch.counts.probabilisticMerges = (batch.counts.probabilisticMerges ?? 0) + scored
        batch.counts.matchReviews = (batch.counts.matchReviews ?? 0) + (changes.reviews?.length ?? 0)
      }
    },
  }
}
