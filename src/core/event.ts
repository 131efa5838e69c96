/**
 * @module The Segment-spec event model as Tessera stores it in the log.
 * See https://segment.com/docs/connections/spec/common/ for the fields.
 */

export const EVENT_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const
export type EventType = (typeof EVENT_TYPES)[number]

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value)
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

/**
 * An event as accepted by the tracking API and appended to `events.raw`:
 * the client's payload plus what ingest stamped on it.
 */
export interface RawEvent {
  readonly type: EventType
  readonly messageId: string
  readonly userId?: string | null
  readonly anonymousId?: string | null
  readonly previousId?: string
  readonly groupId?: string
  readonly event?: string
  readonly name?: string
  readonly category?: string
  readonly traits?: JsonObject
  readonly properties?: JsonObject
  readonly context?: JsonObject
  readonly integrations?: JsonObject
  /** Event time after clock-skew correction (ISO 8601). */
  readonly timestamp: string
  /** Client's own timestamp, as sent (ISO 8601), if any. */
  readonly originalTimestamp?: string
  readonly sentAt?: string
  /** When Tessera received the request (ISO 8601). */
  readonly receivedAt: string
  /** The source (write key owner) that sent it. */
  readonly sourceId: string
}

/** What the enrich stage derived from an event (client-sent fields are never overwritten). */
export interface Enrichment {
  readonly userAgent?: {
    readonly browser: { readonly name?: string; readonly version?: string }
    readonly os: { readonly name?: string; readonly version?: string }
    readonly device: { readonly type?: string; readonly vendor?: string; readonly model?: string }
  }
  /** UTM parameters of the page URL (Segment's `context.campaign` shape). */
  readonly campaign?: Readonly<Record<string, string>>
  readonly sessionId?: string
  /** True when this event started a new session. */
  readonly sessionStart?: boolean
}

/** An event after the pipeline's enrich and identity stages, as kept in the timeline and sent downstream. */
export interface ResolvedEvent extends RawEvent {
  readonly profileId: string
  readonly enrichment: Enrichment
}
