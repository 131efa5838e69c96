/**
 * @module Serialising events and batches for `POST /v1/batch`, and measuring them against the tracking API's
 * limits (Segment's: 32 KB per event, 500 KB per request). Each event is serialised once, at enqueue time; a
 * batch body is assembled from those strings, so a retry or a split never re-serialises.
 */
import type { ClientEvent } from './client-event.js'

/** The tracking API refuses a request body over 500 KB (413). */
export const MAX_BATCH_BYTES = 500 * 1024
/** The tracking API refuses an event over 32 KB. */
export const MAX_EVENT_BYTES = 32 * 1024

/** Bytes of the batch envelope around the events, with a 24-character ISO `sentAt`. */
export const BATCH_ENVELOPE_BYTES = Buffer.byteLength('{"batch":[],"sentAt":"2000-01-01T00:00:00.000Z"}')

export interface EncodedEvent {
  readonly json: string
  /** UTF-8 length of `json`. */
  readonly bytes: number
}

export function encodeEvent(event: ClientEvent): EncodedEvent {
  const json = JSON.stringify(event)
  return { json, bytes: Buffer.byteLength(json) }
}

/** Size of the request body for events of these sizes (commas included). */
export function batchBodyBytes(eventBytesTotal: number, count: number): number {
  return BATCH_ENVELOPE_BYTES + eventBytesTotal + Math.max(0, count - 1)
}

/** The request body: `{"batch":[...],"sentAt":"..."}` from already serialised events. */
export function encodeBatch(eventJson: readonly string[], sentAt: string): string {
  return `{"batch":[${eventJson.join(',')}],"sentAt":${JSON.stringify(sentAt)}}`
}
