/**
 * @module JSON Schemas of the tracking API bodies, for the OpenAPI document and as Fastify's (Ajv) shape
 * check. They are deliberately no stricter than `checkEvent`, which runs first and reports every problem
 * with its path; Ajv then only confirms the shape (and cannot alter what is stored: records are serialised
 * before it runs). Unknown fields are allowed, as in Segment's API.
 */
import { EVENT_TYPES, type EventType } from '../core/event.js'

const date = (what: string) => ({ type: 'string', nullable: true, description: `${what} (ISO 8601).` }) as const
const object = (what: string) => ({ type: 'object', nullable: true, additionalProperties: true, description: what }) as const
const id = (what: string) => ({ anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }], description: what }) as const

/** Fields common to every event, as in https://segment.com/docs/connections/spec/common/. */
const EVENT_PROPERTIES = {
  userId: id('Your id for the user; numbers are converted to strings. identify/track/page/screen/group need userId or anonymousId.'),
  anonymousId: id('Device or browser id; RudderStack may send it base64-encoded in an AnonymousId header instead.'),
  messageId: { type: 'string', nullable: true, description: 'Unique id of the event, used for de-duplication; generated (UUID v4) when absent.' },
  event: { type: 'string', nullable: true, description: 'track: the name of the action (required).' },
  name: { type: 'string', nullable: true, description: 'page/screen: the name of the page or screen.' },
  category: { type: 'string', nullable: true, description: 'page/screen: its category.' },
  previousId: id('alias: the old id (required).'),
  groupId: id('group: the id of the group (required).'),
  traits: object('identify/group: traits of the user or group.'),
  properties: object('track/page/screen: properties of the event.'),
  context: object('Context: library, page, userAgent, ip, locale, campaign, …'),
  integrations: object('Which destinations the event is for.'),
  timestamp: date('When the event happened on the client clock'),
  originalTimestamp: date('The client timestamp, used when `timestamp` is absent'),
  sentAt: date('When the client sent the request; enables clock-skew correction'),
  writeKey: { description: 'The source write key, when not sent as HTTP Basic user name. Never stored.' },
} as const

/** An item of a batch: like a single event, plus its required `type`. */
export const batchItemSchema = {
  type: 'object',
  required: ['type'],
  additionalProperties: true,
  properties: {
    type: { type: 'string', enum: EVENT_TYPES, description: 'The kind of call.' },
    ...EVENT_PROPERTIES,
  },
} as const

const REQUIRED_BY_TYPE: Readonly<Record<EventType, readonly string[]>> = {
  identify: [], track: ['event'], page: [], screen: [], group: ['groupId'], alias: ['userId', 'previousId'],
}

/** Body of a single-event endpoint; the path sets the type, a `type` in the body is ignored. */
export function eventBodySchema(type: EventType) {
  return {
    type: 'object',
    additionalProperties: true,
    required: REQUIRED_BY_TYPE[type],
    properties: { type: { description: `Ignored: this endpoint records ${type} events.` }, ...EVENT_PROPERTIES },
  } as const
}

/** Body of `/v1/batch` and the other batch endpoints. */
export const batchBodySchema = {
  type: 'object',
  required: ['batch'],
  additionalProperties: true,
  properties: {
    batch: { type: 'array', minItems: 1, items: batchItemSchema, description: 'The events (500 KB per request, 32 KB per event).' },
    context: object('Merged under the context of every event of the batch (the event\'s own keys win).'),
    integrations: object('Merged under the integrations of every event of the batch.'),
    sentAt: date('When the batch was sent; applies to events without their own sentAt'),
    writeKey: EVENT_PROPERTIES.writeKey,
  },
} as const

/** The 200 answer: the events are durably in the log. */
export const successBodySchema = {
  type: 'object',
  required: ['success'],
  properties: { success: { type: 'boolean', const: true } },
} as const
