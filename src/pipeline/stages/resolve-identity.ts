/** @module Resolve-identity stage: attaches each event to a profile through the deterministic identity graph. */
import type { IdentityRules } from '../../identity/identity-rules.js'
import type { RealtimeMatching } from '../../matching/realtime.js'
import { resolveBatch } from '../../identity/resolve-batch.js'
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
      const { resolutions, changes } = await resolveBatch(
        items.map((i) => i.event),
        rules,
        batch.tx.identity,
        options.profileAges === 'identifiers' ? null
          : async (ids) => new Map([...(await batch.tx.profiles.get(ids))].map(([id, p]) => [id, p.createdAt])),
        options.matching ?? null,
      )
      items.forEach((item, n) => {
        const r = resolutions[n]!
        item.profileId = r.profileId
        item.merged = r.merged
      })
      await batch.tx.identity.apply(changes)
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
