/**
 * @module The tracking API as an encapsulated Fastify plugin: drop-in compatible with the Segment HTTP
 * Tracking API, analytics-next (short paths, `text/plain` bodies, CDN settings) and RudderStack's JS SDK
 * (Basic auth, `AnonymousId` header, beacon batches). The rules live in `src/ingest/`; this file maps them to
 * HTTP: body parsing, hooks, routes, CORS, metrics.
 *
 * A request goes: CORS (onRequest) → body parser (decompress, JSON) → `admit` (preValidation: write key,
 * every rule, stamping, serialisation) → Ajv shape check → handler (one `EventLog.append`, then 200).
 * Nothing is acknowledged before the append resolved, and a refused request appends nothing.
 */
import type {} from '@fastify/swagger' // route-schema keys for the OpenAPI document (summary, tags, security)
import { performance } from 'node:perf_hooks'
import { errorCodes, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifySchema } from 'fastify'
import type { Clock } from '../core/clock.js'
import { isTesseraError, TesseraError, ValidationError } from '../core/errors.js'
import { TOPICS, type EventLog } from '../log/event-log.js'
import { buildCdnSettings, isValidHost } from '../ingest/cdn-settings.js'
import { corsHeaders, createCorsPolicy } from '../ingest/cors-policy.js'
import { batchBodySchema, eventBodySchema, successBodySchema } from '../ingest/event-schema.js'
import {
  MalformedBodyError, PayloadTooLargeError, UnauthorizedError, rejectionReasonFor,
} from '../ingest/ingest-errors.js'
import { governedRecords, type IngestConsent } from '../ingest/ingest-consent.js'
import { parseJsonBody } from '../ingest/parse-body.js'
import {
  assertPrepared, eventCountOf, prepareBatch, prepareEvent, type IngestContext, type PreparedEvents,
} from '../ingest/prepare-events.js'
import type { SourceRegistry } from '../ingest/source-registry.js'
import { SETTINGS_PATH, TRACKING_ENDPOINTS, type TrackingEndpoint } from '../ingest/tracking-paths.js'
import { anonymousIdFromHeader, authenticate } from '../ingest/write-key.js'
import { errorBodySchema } from './error-handler.js'
import type { Metrics } from './metrics.js'

export interface IngestPluginOptions {
  /** Accepted events are appended to `TOPICS.raw`; the app creates the topic before registering the plugin. */
  readonly log: EventLog
  /** Write key → source (see `createSourceRegistry`). */
  readonly sources: SourceRegistry
  /**
   * `maxEventBytes`: per event (Segment: 32 KB) and the body limit of single-event endpoints;
   * `maxBatchBytes`: per batch request, after decompression (Segment: 500 KB).
   */
  readonly limits: { readonly maxEventBytes: number; readonly maxBatchBytes: number }
  /** Browser origins allowed to call the API; `['*']` reflects any origin (credentials are never allowed). */
  readonly corsOrigins: readonly string[]
  readonly metrics: Metrics
  /** Source of `receivedAt`. */
  readonly clock: Clock
  /**
   * Records the consent signals of each request (`context.consent`, TCF/GPP strings, `Sec-GPC`) and removes or
   * hashes what consent forbids before the append. Without it events are appended as stamped.
   */
  readonly consent?: IngestConsent
}

const SUCCESS = Object.freeze({ success: true as const })
const TAGS = ['tracking'] as const
const SECURITY = [{ writeKey: [] }] as const
const ERROR_RESPONSES = {
  400: { description: 'Invalid request: every problem is listed in `problems`, each with the JSON path of its field', ...errorBodySchema },
  401: { description: 'Missing or unknown write key', ...errorBodySchema },
  413: { description: 'Body over the endpoint limit (after decompression)', ...errorBodySchema },
  415: { description: 'Unsupported content type', ...errorBodySchema },
  429: { description: 'The event log is busy: retry after `Retry-After` seconds; nothing was stored', ...errorBodySchema },
  503: { description: 'The event log is unavailable: retry later; nothing was stored', ...errorBodySchema },
} as const
const WRITE_KEY_QUERY = {
  type: 'object',
  properties: { writeKey: { type: 'string', description: 'The source write key (navigator.sendBeacon cannot send headers).' } },
} as const
const ANONYMOUS_ID_HEADER = {
  type: 'object',
  properties: { anonymousid: { type: 'string', description: 'RudderStack: base64 of the anonymousId, used when the body has none.' } },
} as const

const SETTINGS_RESPONSE = {
  description: 'analytics-next CDN settings',
  type: 'object',
  properties: {
    integrations: {
      type: 'object',
      properties: {
        'Segment.io': {
          type: 'object',
          properties: {
            apiKey: { type: 'string' },
            apiHost: { type: 'string' },
            protocol: { type: 'string', enum: ['http', 'https'] },
            addBundledMetadata: { type: 'boolean' },
            unbundledIntegrations: { type: 'array', items: { type: 'string' } },
            maybeBundledConfigIds: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
            retryQueue: { type: 'boolean' },
          },
        },
      },
    },
    plan: { type: 'object', additionalProperties: true },
    enabledMiddleware: { type: 'object', additionalProperties: { type: 'boolean' } },
    middlewareSettings: { type: 'object', additionalProperties: true },
    metrics: { type: 'object', properties: { sampleRate: { type: 'number' }, host: { type: 'string' } } },
    remotePlugins: { type: 'array', items: { type: 'object', additionalProperties: true } },
    legacyVideoPluginsEnabled: { type: 'boolean' },
  },
} as const

/**
 * Registers the tracking routes in their own encapsulation context: the content-type parsers, CORS hook and
 * error counting defined here apply to these routes only. Errors are thrown as Tessera errors and rendered by
 * the app's error handler (`errorHandler`), which must be set before registering this plugin.
 */
export const ingestPlugin: FastifyPluginAsync<IngestPluginOptions> = async function ingestPlugin(app, opts) {
  const { log, sources, limits, metrics, clock } = opts
  const cors = createCorsPolicy(opts.corsOrigins)
  /** Events carried by a request once its body is parsed (1 before): the weight of a refusal in the metrics. */
  const eventCounts = new WeakMap<FastifyRequest, number>()
  /** What `admit` accepted, for the handler to append. */
  const admitted = new WeakMap<FastifyRequest, { readonly sourceId: string; readonly prepared: PreparedEvents; readonly gpc: boolean }>()

  // This context only: Fastify's JSON parser knows neither gzip nor text/plain JSON.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, parseBody)
  // The catch-all also receives bodies without a Content-Type (curl, some server libraries).
  app.addContentTypeParser('*', { parseAs: 'buffer' }, async function parseUntypedBody(request: FastifyRequest, raw: Buffer) {
    if (request.headers['content-type'] !== undefined) throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE()
    return parseBody(request, raw)
  })

  app.addHook('onRequest', async function applyCors(request, reply) {
    void reply.headers(corsHeaders(cors, headerValue(request.headers.origin), request.method === 'OPTIONS'))
  })

  app.addHook('onError', async function countRejection(request, _reply, error) {
    const reason = rejectionReasonFor(error)
    if (reason !== undefined) metrics.eventsRejected.inc({ reason }, eventCounts.get(request) ?? 1)
  })

  for (const endpoint of TRACKING_ENDPOINTS) {
    const isBatch = endpoint.kind === 'batch'
    app.post(endpoint.path, {
      bodyLimit: isBatch ? limits.maxBatchBytes : limits.maxEventBytes,
      // The beacon URL carries the write key in its query, and Fastify's default request log prints the URL:
      // below `info`, the 'incoming request' line is not written for this route.
      ...(endpoint.writeKeyInQuery ? { logLevel: 'warn' as const } : {}),
      schema: routeSchema(endpoint, isBatch),
      preValidation: admit(endpoint),
    }, appendAdmitted)
    app.options(endpoint.path, { schema: { hide: true } }, answerPreflight)
  }

  app.get<{ Params: { writeKey: string } }>(SETTINGS_PATH, {
    logLevel: 'warn', // the write key is in the URL
    schema: {
      summary: 'Source settings for analytics-next (point its cdnURL at this server)',
      description: 'Served for a valid write key; `integrations["Segment.io"].apiHost` is this server as the browser reached it.',
      tags: TAGS,
      params: { type: 'object', required: ['writeKey'], properties: { writeKey: { type: 'string' } } },
      response: { 200: SETTINGS_RESPONSE, 401: ERROR_RESPONSES[401], 400: ERROR_RESPONSES[400] },
    },
  }, async function serveCdnSettings(request, reply) {
    const { writeKey } = request.params
    if (sources.findByWriteKey(writeKey) === undefined) throw new UnauthorizedError('the write key is not valid')
    const host = request.host
    if (!isValidHost(host)) throw new ValidationError('(headers).host', 'is not a valid host name')
    // Browsers may reuse it for a while; shared caches must not (the answer depends on the Host header).
    void reply.header('cache-control', 'private, max-age=300')
    return buildCdnSettings({ writeKey, host, protocol: request.protocol })
  })
  app.options(SETTINGS_PATH, { schema: { hide: true } }, answerPreflight)

  /** Content-type parser: decompress, enforce the endpoint limit on the decoded size, parse JSON. */
  async function parseBody(request: FastifyRequest, raw: Buffer): Promise<unknown> {
    const limit = request.routeOptions.bodyLimit
    const result = await parseJsonBody(raw, headerValue(request.headers['content-encoding']), limit)
    if (result.ok) return result.value
    if (result.reason === 'too_large') throw new PayloadTooLargeError(limit)
    throw new MalformedBodyError(result.message)
  }

  /** preValidation: authenticate, then check, stamp and serialise every event (all or nothing). */
  function admit(endpoint: TrackingEndpoint) {
    const isBatch = endpoint.kind === 'batch'
    return async function admitTrackingRequest(request: FastifyRequest): Promise<void> {
      const body = request.body
      eventCounts.set(request, eventCountOf(body, isBatch))
      const auth = authenticate(sources, {
        authorization: request.headers.authorization,
        body,
        query: endpoint.writeKeyInQuery ? (request.query as { readonly writeKey?: unknown } | undefined)?.writeKey : undefined,
      })
      if (!auth.ok) {
        throw new UnauthorizedError(auth.reason === 'unknown'
          ? 'the write key is not valid'
          : `a write key is required: as the HTTP Basic user name, or as "writeKey" in the body${endpoint.writeKeyInQuery ? ', or as the writeKey query parameter' : ''}`)
      }
      const ctx: IngestContext = {
        sourceId: auth.source.id,
        receivedAtMs: clock.now(),
        ip: request.ip,
        anonymousIdHeader: isBatch ? undefined : anonymousIdFromHeader(headerValue(request.headers.anonymousid)),
        maxEventBytes: limits.maxEventBytes,
      }
      const result = isBatch || endpoint.type === undefined ? prepareBatch(body, ctx) : prepareEvent(body, endpoint.type, ctx)
      assertPrepared(result)
      admitted.set(request, { sourceId: auth.source.id, prepared: result, gpc: isGpcHeader(request.headers['sec-gpc']) })
    }
  }

  /** Handler: one append per request (the log group-commits concurrent ones); 200 only once it is durable. */
  async function appendAdmitted(request: FastifyRequest): Promise<typeof SUCCESS> {
    const entry = admitted.get(request)
    if (entry === undefined) throw new Error('ingest handler ran for a request that preValidation did not admit')
    const started = performance.now()
    let records = entry.prepared.records
    if (opts.consent) {
      // Consent signals are recorded first; the event is appended without what consent forbids.
      const governed = await opts.consent.govern(entry.prepared.events, { sourceId: entry.sourceId, gpc: entry.gpc })
        .catch((error: unknown) => {
          // The consent store is unavailable: nothing was appended, so the client may safely send the batch again.
          if (isTesseraError(error) && error.code === 'TESSERA_STORE' && error.retryAfterSeconds === undefined) {
            throw new TesseraError('TESSERA_STORE', `${error.message}; nothing was accepted, retry`, { cause: error, retryAfterSeconds: 1 })
          }
          throw error
        })
      records = governedRecords(records, entry.prepared.events, governed)
    }
    try {
      // TESSERA_BACKPRESSURE / TESSERA_LOG_UNAVAILABLE propagate: the error handler answers 429/503 + Retry-After.
      await log.append(TOPICS.raw, records)
    } finally {
      metrics.appendSeconds.observe((performance.now() - started) / 1000)
    }
    for (const [type, count] of entry.prepared.countsByType) metrics.eventsAccepted.inc({ source: entry.sourceId, type }, count)
    return SUCCESS
  }
}

function routeSchema(endpoint: TrackingEndpoint, isBatch: boolean): FastifySchema {
  return {
    summary: endpoint.summary,
    description: isBatch
      ? 'Answers 200 once every event is durably in the event log. A batch with any invalid event is refused whole (400, every problem listed).'
      : 'Answers 200 once the event is durably in the event log.',
    tags: TAGS,
    security: SECURITY,
    consumes: ['application/json', 'text/plain'],
    body: isBatch || endpoint.type === undefined ? batchBodySchema : eventBodySchema(endpoint.type),
    ...(endpoint.writeKeyInQuery ? { querystring: WRITE_KEY_QUERY } : {}),
    ...(isBatch ? {} : { headers: ANONYMOUS_ID_HEADER }),
    response: { 200: { description: 'Stored', ...successBodySchema }, ...ERROR_RESPONSES },
  }
}

async function answerPreflight(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // The CORS headers were set by the onRequest hook (none when the origin is not allowed).
  await reply.code(204).send()
}

/** A single header value (Node joins most repeated headers; arrays only occur for a few). */
/** `Sec-GPC: 1` (W3C Global Privacy Control): only the exact value 1 counts. */
function isGpcHeader(value: string | readonly string[] | undefined): boolean {
  return headerValue(value)?.trim() === '1'
}

function headerValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0]
}
