/** @module Dedupe stage: drops events whose (source, messageId) was processed within the window (Segment semantics). */
import { live, type BatchContext, type Stage } from '../stage.js'

export function dedupeKey(sourceId: string, messageId: string): string {
  return `${sourceId}:${messageId}`
}

export function createDedupeStage(): Stage {
  return {
    name: 'dedupe',
    policy: 'ensure',
    async run(batch: BatchContext): Promise<void> {
      const items = live(batch.items)
      const keys = items.map((i) => dedupeKey(i.event.sourceId, i.event.messageId))
      const seen = await batch.tx.dedupe.seen(keys)
      const fresh: string[] = []
      items.forEach((item, n) => {
        const key = keys[n]!
        if (seen.has(key)) {
          item.dropped = 'duplicate'
          batch.counts.duplicates = (batch.counts.duplicates ?? 0) + 1
        } else {
          seen.add(key) // a duplicate inside the same batch
          fresh.push(key)
        }
      })
      await batch.tx.dedupe.remember(fresh, batch.now)
    },
  }
}
