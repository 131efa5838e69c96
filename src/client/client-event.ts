/** @module The event a client sends to the tracking API: a Segment-spec call before the server stamps it. */
import type { RawEvent } from '../core/event.js'

/**
 * A Segment-spec call as sent to `POST /v1/batch`. The server adds `receivedAt` and `sourceId` (from the write
 * key) and corrects `timestamp` for clock skew; `messageId` is optional here because the tracking client fills a
 * missing one before the first attempt, so that retries are deduplicated.
 *
 * @example { type: 'track', userId: 'u1', event: 'Order Completed', properties: { revenue: 42 } }
 */
export type ClientEvent = Omit<RawEvent, 'receivedAt' | 'sourceId' | 'timestamp' | 'messageId' | 'originalTimestamp'> & {
  readonly messageId?: string
  /** When the event happened, ISO 8601, by the client's clock. */
  readonly timestamp?: string
}
