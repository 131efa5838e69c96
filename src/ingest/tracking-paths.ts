/**
 * @module Every path the tracking API answers, and why: each one is used by an SDK that must work unchanged.
 *
 * - Segment HTTP Tracking API and RudderStack's JS SDK (v1.1 `XHRQueue`, v3 `XhrQueue`/`DataPlaneEventsQueue`):
 *   `/v1/<type>` and `/v1/batch`; `/v1/import` is the batch format too (Segment import, rudder-server gateway).
 * - analytics-next (segmentio/analytics-next packages/browser/src/plugins/segmentio/index.ts): posts to
 *   `${protocol}://${apiHost}/${type.charAt(0)}`, and its batching dispatcher (batched-dispatcher.ts) to
 *   `${apiHost}/b`; `apiHost` is `<host>/v1`, hence `/v1/t`, `/v1/b`, …
 * - RudderStack's beacon plugin (packages/analytics-js-plugins/src/beaconQueue/utilities.ts):
 *   `/beacon/v1/batch?writeKey=…`, since `navigator.sendBeacon` cannot set an `Authorization` header.
 */
import { EVENT_TYPES, type EventType } from '../core/event.js'

export const ENDPOINT_KINDS = ['event', 'batch'] as const
export type EndpointKind = (typeof ENDPOINT_KINDS)[number]

export interface TrackingEndpoint {
  readonly path: string
  readonly kind: EndpointKind
  /** The event type a single-event endpoint stands for. */
  readonly type?: EventType
  /** Whether the write key may come in the query string (beacon only: query strings end up in logs). */
  readonly writeKeyInQuery: boolean
  /** One line for the OpenAPI document. */
  readonly summary: string
}

const LONG: readonly TrackingEndpoint[] = EVENT_TYPES.map((type) => ({
  path: `/v1/${type}`, kind: 'event', type, writeKeyInQuery: false, summary: `Record one ${type} event (Segment spec)`,
}))

const SHORT: readonly TrackingEndpoint[] = EVENT_TYPES.map((type) => ({
  path: `/v1/${type.charAt(0)}`, kind: 'event', type, writeKeyInQuery: false,
  summary: `Record one ${type} event (analytics-next short path)`,
}))

const BATCH: readonly TrackingEndpoint[] = [
  { path: '/v1/batch', kind: 'batch', writeKeyInQuery: false, summary: 'Record a batch of events (Segment spec)' },
  { path: '/v1/import', kind: 'batch', writeKeyInQuery: false, summary: 'Import a batch of events (same format as /v1/batch)' },
  { path: '/v1/b', kind: 'batch', writeKeyInQuery: false, summary: 'Record a batch of events (analytics-next batching path)' },
  { path: '/beacon/v1/batch', kind: 'batch', writeKeyInQuery: true, summary: 'Record a batch of events sent with navigator.sendBeacon (write key in the query)' },
]

/** All POST endpoints of the tracking API. */
export const TRACKING_ENDPOINTS: readonly TrackingEndpoint[] = Object.freeze([...LONG, ...SHORT, ...BATCH])

/** Where analytics-next fetches its settings (`:writeKey` is a path parameter). */
export const SETTINGS_PATH = '/v1/projects/:writeKey/settings'
