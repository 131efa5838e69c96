/**
 * @module The consent hook of the tracking API (a port the ingest owns; the consent ledger implements it). It
 * runs after every rule and stamp, before the append: it records the consent signals the events carry
 * (`context.consent`, TCF/GPP strings, `Sec-GPC`) and returns the events with what consent forbids dropped or
 * hashed. Records whose event did not change keep their serialised form.
 */
import type { AppendRecord } from '../log/event-log.js'
import type { StampedEvent } from './stamp-event.js'

export interface IngestConsent {
  /** Same length and order as `events`; an unchanged event is returned as the same object. */
  govern(events: readonly StampedEvent[], request: { readonly sourceId: string; readonly gpc: boolean }): Promise<readonly StampedEvent[]>
}

/** The records to append after governing: re-serialised only where the event changed. */
export function governedRecords(records: readonly AppendRecord[], before: readonly StampedEvent[], after: readonly StampedEvent[]): AppendRecord[] {
  return records.map((r, i) => (after[i] === before[i] ? r : { ...r, value: JSON.stringify(after[i]) }))
}
