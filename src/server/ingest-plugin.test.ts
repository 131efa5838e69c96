import { gzipSync, deflateSync } from 'node:zlib'
import { Analytics } from '@segment/analytics-node'
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { TOPICS } from '../log/event-log.js'
import { MemoryEventLog, type MemoryEventLogOptions } from '../log/memory/memory-event-log.js'
import { createSourceRegistry } from '../ingest/source-registry.js'
import { errorHandler } from './error-handler.js'
import { ingestPlugin } from './ingest-plugin.js'
import { createMetrics, type Metrics } from './metrics.js'

const WRITE_KEY = 'wk_web_0123456789'
const OTHER_KEY = 'wk_srv_0123456789'
const NOW = Date.parse('2024-05-01T12:00:00.000Z')
const KB = 1024
const basic = (key: string): string => `Basic ${Buffer.from(`${key}:`).toString('base64')}`

interface Harness {
  readonly app: FastifyInstance
  readonly log: MemoryEventLog
  readonly metrics: Metrics
}

let current: Harness | undefined

interface SetupOptions {
  readonly log?: MemoryEventLogOptions
  readonly corsOrigins?: readonly string[]
  /** Ajv options of the app (src/server/app.ts uses coerceTypes: true, allErrors: true). */
  readonly ajv?: Record<string, unknown>
}

async function setup(options: SetupOptions = {}): Promise<Harness> {
  const log = new MemoryEventLog(options.log)
  await log.ensureTopic(TOPICS.raw, 4)
  const metrics = createMetrics({ defaultMetrics: false })
  const app = options.ajv === undefined ? Fastify() : Fastify({ ajv: { customOptions: options.ajv } })
  app.setErrorHandler(errorHandler)
  await app.register(ingestPlugin, {
    log,
    sources: createSourceRegistry([
      { id: 'web', name: 'Website', writeKeys: [WRITE_KEY] },
      { id: 'backend', name: 'Backend', writeKeys: [OTHER_KEY] },
    ]),
    limits: { maxEventBytes: 32 * KB, maxBatchBytes: 500 * KB },
    corsOrigins: options.corsOrigins ?? ['*'],
    metrics,
    clock: { now: () => NOW },
  })
  await app.ready()
  current = { app, log, metrics }
  return current
}

afterEach(async () => {
  await current?.app.close()
  current = undefined
})

/** Everything in events.raw, in partition then offset order. */
async function stored(log: MemoryEventLog): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = []
  for (let p = 0; p < (await log.partitions(TOPICS.raw)); p++) {
    for (const record of await log.read(TOPICS.raw, p, 0, 1000)) out.push(JSON.parse(record.value) as Record<string, unknown>)
  }
  return out
}

function post(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
  const options: InjectOptions = { method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...headers } }
  return app.inject(options)
}

const postJson = (app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) =>
  post(app, url, body, { authorization: basic(WRITE_KEY), ...headers })

async function metricValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return value?.value ?? 0
}

describe('single-event endpoints', () => {
  const bodies = {
    identify: { userId: 'u1', traits: { email: 'a@example.com' } },
    track: { anonymousId: 'a1', event: 'Order Completed', properties: { total: 10 } },
    page: { anonymousId: 'a1', name: 'Home', properties: { path: '/' } },
    screen: { userId: 'u1', name: 'Settings' },
    group: { userId: 'u1', groupId: 'g1', traits: { plan: 'pro' } },
    alias: { userId: 'u2', previousId: 'a1' },
  } as const

  for (const [type, body] of Object.entries(bodies)) {
    it(`POST /v1/${type} stores a ${type} event stamped by ingest`, async () => {
      const { app, log } = await setup()
      const res = await postJson(app, `/v1/${type}`, { ...body, messageId: `m-${type}` })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ success: true })
      const [event, ...rest] = await stored(log)
      expect(rest).toHaveLength(0)
      expect(event).toMatchObject({ ...body, type, messageId: `m-${type}`, sourceId: 'web', receivedAt: '2024-05-01T12:00:00.000Z', timestamp: '2024-05-01T12:00:00.000Z' })
      expect((event!.context as Record<string, unknown>).ip).toBe('127.0.0.1')
    })
  }

  it('keys the record by anonymousId, else userId', async () => {
    const { app, log } = await setup()
    await postJson(app, '/v1/track', { anonymousId: 'device-1', userId: 'u1', event: 'A' })
    await postJson(app, '/v1/track', { userId: 'u9', event: 'B' })
    const keys: (string | null)[] = []
    for (let p = 0; p < 4; p++) for (const r of await log.read(TOPICS.raw, p, 0, 10)) keys.push(r.key)
    expect(keys.sort()).toEqual(['device-1', 'u9'])
  })

  it('generates a UUID v4 messageId when the client sent none, and ignores a type in the body', async () => {
    const { app, log } = await setup()
    await postJson(app, '/v1/track', { type: 'identify', anonymousId: 'a1', event: 'Clicked' })
    const [event] = await stored(log)
    expect(event!.type).toBe('track')
    expect(event!.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('converts numeric ids to strings and keeps other fields and the client context as sent', async () => {
    const { app, log } = await setup()
    const context = { library: { name: 'analytics-node', version: '3.1.0' }, ip: '203.0.113.9' }
    await postJson(app, '/v1/group', { userId: 42, groupId: 7, channel: 'server', context, integrations: { All: false } })
    const [event] = await stored(log)
    expect(event).toMatchObject({ userId: '42', groupId: '7', channel: 'server', context, integrations: { All: false } })
  })

  it('takes the AnonymousId header (base64) only when the body has no anonymousId', async () => {
    const { app, log } = await setup()
    const header = Buffer.from('anon-from-header').toString('base64')
    await postJson(app, '/v1/track', { event: 'A' }, { anonymousid: header })
    await postJson(app, '/v1/track', { event: 'B', anonymousId: 'anon-in-body' }, { anonymousid: header })
    const events = await stored(log)
    expect(events.find((e) => e.event === 'A')!.anonymousId).toBe('anon-from-header')
    expect(events.find((e) => e.event === 'B')!.anonymousId).toBe('anon-in-body')
  })

  it('accepts RudderStack requests: Basic auth, application/json;charset=UTF-8, originalTimestamp, empty userId', async () => {
    const { app, log } = await setup()
    const res = await post(app, '/v1/page', {
      type: 'page', anonymousId: 'rs-anon', userId: '', channel: 'web', originalTimestamp: '2024-05-01T11:59:59.000Z',
      sentAt: '2024-05-01T12:00:00.000Z', integrations: { All: true }, messageId: 'rs-1', properties: { path: '/' },
    }, { authorization: basic(WRITE_KEY), 'content-type': 'application/json;charset=UTF-8', anonymousid: Buffer.from('rs-anon').toString('base64') })
    expect(res.statusCode).toBe(200)
    const [event] = await stored(log)
    expect(event).toMatchObject({ anonymousId: 'rs-anon', userId: null, timestamp: '2024-05-01T11:59:59.000Z', originalTimestamp: '2024-05-01T11:59:59.000Z' })
  })
})

describe('analytics-next short paths (text/plain, writeKey in the body)', () => {
  const shortPaths = { i: 'identify', t: 'track', p: 'page', s: 'screen', g: 'group', a: 'alias' } as const
  for (const [letter, type] of Object.entries(shortPaths)) {
    it(`POST /v1/${letter} stores a ${type} event without the write key`, async () => {
      const { app, log } = await setup()
      const body = {
        type, writeKey: WRITE_KEY, anonymousId: 'ajs-anon', userId: 'u1', event: 'Signed Up', groupId: 'g1', previousId: 'ajs-anon',
        messageId: `ajs-next-${letter}`, timestamp: '2024-05-01T11:59:58.000Z', sentAt: '2024-05-01T11:59:59.000Z',
        context: { library: { name: 'analytics.js', version: 'next-1.70.0' } }, _metadata: { bundled: [] },
      }
      const res = await post(app, `/v1/${letter}`, JSON.stringify(body), { 'content-type': 'text/plain' })
      expect(res.statusCode).toBe(200)
      const [event] = await stored(log)
      expect(event).toMatchObject({ type, messageId: `ajs-next-${letter}`, _metadata: { bundled: [] }, sourceId: 'web' })
      expect(event).not.toHaveProperty('writeKey')
      expect(event!.timestamp).toBe('2024-05-01T11:59:59.000Z') // skew-corrected: 1 s before receipt
    })
  }

  it('POST /v1/b takes the batching dispatcher body (writeKey + batch + sentAt)', async () => {
    const { app, log } = await setup()
    const res = await post(app, '/v1/b', JSON.stringify({
      writeKey: WRITE_KEY, sentAt: '2024-05-01T12:00:05.000Z',
      batch: [
        { type: 'track', event: 'A', anonymousId: 'x', writeKey: WRITE_KEY, timestamp: '2024-05-01T12:00:03.000Z', messageId: 'b1' },
        { type: 'page', anonymousId: 'x', writeKey: WRITE_KEY, timestamp: '2024-05-01T12:00:04.000Z', messageId: 'b2' },
      ],
    }), { 'content-type': 'text/plain' })
    expect(res.statusCode).toBe(200)
    const events = await stored(log)
    expect(events.map((e) => [e.messageId, e.timestamp, e.sentAt])).toEqual([
      ['b1', '2024-05-01T11:59:58.000Z', '2024-05-01T12:00:05.000Z'],
      ['b2', '2024-05-01T11:59:59.000Z', '2024-05-01T12:00:05.000Z'],
    ])
  })

  it('accepts a body without a Content-Type', async () => {
    const { app, log } = await setup()
    const res = await app.inject({ method: 'POST', url: '/v1/t', payload: JSON.stringify({ writeKey: WRITE_KEY, anonymousId: 'a', event: 'E' }) })
    expect(res.statusCode).toBe(200)
    expect(await stored(log)).toHaveLength(1)
  })

  it('refuses content types that are not JSON with 415', async () => {
    const { app, log } = await setup()
    const res = await post(app, '/v1/t', '<xml/>', { 'content-type': 'application/xml', authorization: basic(WRITE_KEY) })
    expect(res.statusCode).toBe(415)
    expect(await stored(log)).toHaveLength(0)
  })
})

describe('batch endpoints', () => {
  it('merges batch-level context and integrations under each event and applies the batch sentAt', async () => {
    const { app, log } = await setup()
    const res = await postJson(app, '/v1/batch', {
      context: { library: { name: 'analytics-python' }, locale: 'en-US' },
      integrations: { All: true, Mixpanel: false },
      sentAt: '2024-05-01T13:00:00.000Z', // client clock one hour fast
      batch: [
        { type: 'identify', userId: 'u1', traits: { name: 'Ada' }, timestamp: '2024-05-01T12:59:00.000Z', messageId: '1' },
        { type: 'track', userId: 'u1', event: 'Paid', context: { locale: 'fr-FR' }, integrations: { Mixpanel: true }, sentAt: '2024-05-01T12:00:00.000Z', timestamp: '2024-05-01T11:59:30.000Z', messageId: '2' },
      ],
    })
    expect(res.statusCode).toBe(200)
    const events = await stored(log)
    const [first, second] = [events.find((e) => e.messageId === '1')!, events.find((e) => e.messageId === '2')!]
    expect(first.context).toEqual({ library: { name: 'analytics-python' }, locale: 'en-US', ip: '127.0.0.1' })
    expect(first.integrations).toEqual({ All: true, Mixpanel: false })
    expect(first.timestamp).toBe('2024-05-01T11:59:00.000Z')
    expect(first.sentAt).toBe('2024-05-01T13:00:00.000Z')
    expect(second.context).toEqual({ library: { name: 'analytics-python' }, locale: 'fr-FR', ip: '127.0.0.1' })
    expect(second.integrations).toEqual({ All: true, Mixpanel: true })
    expect(second.timestamp).toBe('2024-05-01T11:59:30.000Z')
  })

  it('serves /v1/import with the batch format', async () => {
    const { app, log } = await setup()
    const res = await postJson(app, '/v1/import', { batch: [{ type: 'identify', userId: 'crm-1', traits: { email: 'x@example.com' } }] })
    expect(res.statusCode).toBe(200)
    expect(await stored(log)).toHaveLength(1)
  })

  it('refuses an empty batch and a body without one', async () => {
    const { app } = await setup()
    const empty = await postJson(app, '/v1/batch', { batch: [] })
    expect(empty.statusCode).toBe(400)
    expect(empty.json()).toMatchObject({ code: 'TESSERA_VALIDATION', field: '.batch' })
    const missing = await postJson(app, '/v1/batch', { events: [] })
    expect(missing.statusCode).toBe(400)
    expect(missing.json().field).toBe('.batch')
  })

  it('refuses a batch with any invalid event whole, listing every problem', async () => {
    const { app, log, metrics } = await setup()
    const res = await postJson(app, '/v1/batch', {
      batch: [
        { type: 'track', userId: 'u1', event: 'Fine' },
        { type: 'track', userId: 'u1' },
        { type: 'identify', traits: 'not an object' },
        { type: 'shout', userId: 'u1' },
        'not an event',
      ],
    })
    expect(res.statusCode).toBe(400)
    const body = res.json()
    expect(body.field).toBe('.batch[1].event')
    expect(body.problems.map((p: { field: string }) => p.field)).toEqual([
      '.batch[1].event', '.batch[2].userId', '.batch[2].traits', '.batch[3].type', '.batch[4]',
    ])
    expect(await stored(log)).toHaveLength(0)
    expect(await metricValue(metrics, 'tessera_events_rejected_total', { reason: 'invalid' })).toBe(5)
  })

  it('accepts duplicate messageIds (dedupe is the pipeline\'s job) and appends both', async () => {
    const { app, log } = await setup()
    const event = { type: 'track', anonymousId: 'a1', event: 'Retry', messageId: 'same-id' }
    expect((await postJson(app, '/v1/batch', { batch: [event, event] })).statusCode).toBe(200)
    expect((await postJson(app, '/v1/track', event)).statusCode).toBe(200)
    expect((await stored(log)).filter((e) => e.messageId === 'same-id')).toHaveLength(3)
  })
})

describe('authentication', () => {
  it('answers 401 without a write key', async () => {
    const { app, log, metrics } = await setup()
    const res = await post(app, '/v1/track', { anonymousId: 'a', event: 'E' })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ success: false, code: 'TESSERA_UNAUTHORIZED' })
    expect(await stored(log)).toHaveLength(0)
    expect(await metricValue(metrics, 'tessera_events_rejected_total', { reason: 'unauthorized' })).toBe(1)
  })

  it('answers 401 for an unknown key, in Basic auth or in the body, without echoing it', async () => {
    const { app } = await setup()
    const viaBasic = await post(app, '/v1/track', { anonymousId: 'a', event: 'E' }, { authorization: basic('wk_unknown_key_1') })
    const viaBody = await post(app, '/v1/track', { anonymousId: 'a', event: 'E', writeKey: 'wk_unknown_key_2' })
    for (const res of [viaBasic, viaBody]) {
      expect(res.statusCode).toBe(401)
      expect(res.json().code).toBe('TESSERA_UNAUTHORIZED')
      expect(res.body).not.toContain('wk_unknown')
    }
  })

  it('checks the key before the event, so an unauthenticated caller learns nothing about validation', async () => {
    const { app } = await setup()
    expect((await post(app, '/v1/track', { userId: {} })).statusCode).toBe(401)
  })

  it('records the source owning the key', async () => {
    const { app, log } = await setup()
    expect((await post(app, '/v1/track', { userId: 'u', event: 'E' }, { authorization: basic(OTHER_KEY) })).statusCode).toBe(200)
    expect((await post(app, '/v1/track', { userId: 'u', event: 'E', writeKey: WRITE_KEY })).statusCode).toBe(200)
    expect((await stored(log)).map((e) => e.sourceId).sort()).toEqual(['backend', 'web'])
  })

  it('takes the key from the query on the beacon path only', async () => {
    const { app, log } = await setup()
    const body = JSON.stringify({ batch: [{ type: 'track', anonymousId: 'a', event: 'Left' }], sentAt: '2024-05-01T12:00:00.000Z' })
    const beacon = await post(app, `/beacon/v1/batch?writeKey=${WRITE_KEY}`, body, { 'content-type': 'text/plain;charset=UTF-8' })
    expect(beacon.statusCode).toBe(200)
    const noKey = await post(app, '/beacon/v1/batch', body, { 'content-type': 'text/plain;charset=UTF-8' })
    expect(noKey.statusCode).toBe(401)
    const elsewhere = await post(app, `/v1/batch?writeKey=${WRITE_KEY}`, body)
    expect(elsewhere.statusCode).toBe(401)
    expect(await stored(log)).toHaveLength(1)
  })
})

describe('size limits', () => {
  const big = (bytes: number): string => 'x'.repeat(bytes)

  it('refuses an event over 32 KB in a batch with 400 naming the event and the limit; nothing is stored', async () => {
    const { app, log, metrics } = await setup()
    const res = await postJson(app, '/v1/batch', {
      batch: [
        { type: 'track', userId: 'u', event: 'Small' },
        { type: 'track', userId: 'u', event: 'Huge', properties: { blob: big(40 * KB) } },
      ],
    })
    expect(res.statusCode).toBe(400)
    const body = res.json()
    expect(body.field).toBe('.batch[1]')
    expect(body.message).toContain('32 KB')
    expect(await stored(log)).toHaveLength(0)
    expect(await metricValue(metrics, 'tessera_events_rejected_total', { reason: 'too_large' })).toBe(2)
  })

  it('refuses a batch request over 500 KB with 413', async () => {
    const { app, log } = await setup()
    const batch = Array.from({ length: 20 }, (_, i) => ({ type: 'track', userId: 'u', event: `E${i}`, properties: { blob: big(30 * KB) } }))
    const res = await postJson(app, '/v1/batch', { batch })
    expect(res.statusCode).toBe(413)
    expect(res.json().code).toBe('TESSERA_PAYLOAD_TOO_LARGE')
    expect(await stored(log)).toHaveLength(0)
  })

  it('limits single-event bodies to the event limit (413)', async () => {
    const { app } = await setup()
    const res = await postJson(app, '/v1/track', { userId: 'u', event: 'E', properties: { blob: big(33 * KB) } })
    expect(res.statusCode).toBe(413)
  })

  it('accepts a gzip body and a deflate body', async () => {
    const { app, log } = await setup()
    const batch = { batch: [{ type: 'track', userId: 'u', event: 'Zipped' }] }
    const gz = await postJson(app, '/v1/batch', gzipSync(JSON.stringify(batch)), { 'content-encoding': 'gzip' })
    expect(gz.statusCode).toBe(200)
    const df = await postJson(app, '/v1/track', deflateSync(JSON.stringify({ userId: 'u', event: 'Deflated' })), { 'content-encoding': 'deflate' })
    expect(df.statusCode).toBe(200)
    expect((await stored(log)).map((e) => e.event).sort()).toEqual(['Deflated', 'Zipped'])
  })

  it('answers a gzip bomb with 413 without inflating it whole', async () => {
    const { app, log, metrics } = await setup()
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)) // 64 MB of spaces, about 64 KB compressed
    expect(bomb.length).toBeLessThan(500 * KB)
    const res = await postJson(app, '/v1/batch', bomb, { 'content-encoding': 'gzip' })
    expect(res.statusCode).toBe(413)
    expect(await stored(log)).toHaveLength(0)
    expect(await metricValue(metrics, 'tessera_events_rejected_total', { reason: 'too_large' })).toBe(1)
  })

  it('answers 400 for corrupt gzip and for an unsupported Content-Encoding', async () => {
    const { app } = await setup()
    const corrupt = await postJson(app, '/v1/batch', Buffer.from('definitely not gzip'), { 'content-encoding': 'gzip' })
    expect(corrupt.statusCode).toBe(400)
    expect(corrupt.json()).toMatchObject({ field: '(body)' })
    const brotli = await postJson(app, '/v1/batch', Buffer.from('{}'), { 'content-encoding': 'br' })
    expect(brotli.statusCode).toBe(400)
  })
})

describe('validation', () => {
  it('answers 400 with field (body) for malformed JSON', async () => {
    const { app, metrics } = await setup()
    const res = await postJson(app, '/v1/track', '{"userId": "u", "event": ')
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ success: false, code: 'TESSERA_VALIDATION', field: '(body)' })
    expect(res.json().message).toMatch(/not valid JSON/)
    expect(await metricValue(metrics, 'tessera_events_rejected_total', { reason: 'malformed' })).toBe(1)
  })

  it.each([
    ['traits as a string', { userId: 'u', traits: 'vip' }, '/v1/identify', '.traits'],
    ['a timestamp that is not a date', { userId: 'u', event: 'E', timestamp: 'yesterday' }, '/v1/track', '.timestamp'],
    ['userId as an object', { userId: { id: 1 }, event: 'E' }, '/v1/track', '.userId'],
    ['no userId nor anonymousId', { event: 'E' }, '/v1/track', '.userId'],
    ['track without event', { userId: 'u' }, '/v1/track', '.event'],
    ['alias without previousId', { userId: 'u' }, '/v1/alias', '.previousId'],
    ['group without groupId', { userId: 'u' }, '/v1/group', '.groupId'],
    ['properties as an array', { userId: 'u', event: 'E', properties: [1] }, '/v1/track', '.properties'],
    ['a numeric messageId', { userId: 'u', event: 'E', messageId: 12 }, '/v1/track', '.messageId'],
    ['a body that is not an object', [1, 2], '/v1/track', '(body)'],
  ])('refuses %s', async (_name, body, url, field) => {
    const { app, log } = await setup()
    const res = await postJson(app, url, body)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ success: false, code: 'TESSERA_VALIDATION', field })
    expect(await stored(log)).toHaveLength(0)
  })

  it('reports every problem of a single event', async () => {
    const { app } = await setup()
    const res = await postJson(app, '/v1/identify', { traits: 'x', context: 5, sentAt: 'soon' })
    expect(res.json().problems.map((p: { field: string }) => p.field)).toEqual(['.userId', '.traits', '.context', '.sentAt'])
  })

  it('refuses __proto__ keys', async () => {
    const { app } = await setup()
    const res = await postJson(app, '/v1/track', '{"userId":"u","event":"E","properties":{"__proto__":{"admin":true}}}')
    expect(res.statusCode).toBe(400)
    expect(res.json().field).toBe('(body)')
  })
})

describe('timestamps', () => {
  it('corrects the clock of a client one hour fast and keeps its timestamp as originalTimestamp', async () => {
    const { app, log } = await setup()
    await postJson(app, '/v1/track', {
      userId: 'u', event: 'E', timestamp: '2024-05-01T12:59:59.500Z', sentAt: '2024-05-01T13:00:00.000Z',
    })
    const [event] = await stored(log)
    expect(event!.timestamp).toBe('2024-05-01T11:59:59.500Z')
    expect(Math.abs(Date.parse(event!.timestamp as string) - NOW)).toBeLessThan(1000)
    expect(event!.originalTimestamp).toBe('2024-05-01T12:59:59.500Z')
    expect(event!.receivedAt).toBe('2024-05-01T12:00:00.000Z')
  })

  it('uses the client timestamp as is without sentAt, and receivedAt without a timestamp', async () => {
    const { app, log } = await setup()
    await postJson(app, '/v1/track', { userId: 'u', event: 'Old', timestamp: '2020-01-01T00:00:00Z' })
    await postJson(app, '/v1/track', { userId: 'u', event: 'Now' })
    const events = await stored(log)
    expect(events.find((e) => e.event === 'Old')!.timestamp).toBe('2020-01-01T00:00:00.000Z')
    const now = events.find((e) => e.event === 'Now')!
    expect(now.timestamp).toBe('2024-05-01T12:00:00.000Z')
    expect(now).not.toHaveProperty('originalTimestamp')
  })
})

describe('backpressure', () => {
  it('answers 429 with Retry-After when the log is full, and appends nothing', async () => {
    const { app, log, metrics } = await setup({ log: { maxRecords: 2 } })
    expect((await postJson(app, '/v1/track', { userId: 'u', event: 'First' })).statusCode).toBe(200)
    const res = await postJson(app, '/v1/batch', { batch: [{ type: 'track', userId: 'u', event: 'A' }, { type: 'track', userId: 'u', event: 'B' }] })
    expect(res.statusCode).toBe(429)
    expect(res.headers['retry-after']).toBe('1')
    expect(res.json().code).toBe('TESSERA_BACKPRESSURE')
    expect((await stored(log)).map((e) => e.event)).toEqual(['First'])
    expect(await metricValue(metrics, 'tessera_events_rejected_total', { reason: 'backpressure' })).toBe(2)
    expect(await metricValue(metrics, 'tessera_events_accepted_total', { source: 'web', type: 'track' })).toBe(1)
  })

  it('answers 503 when the log is unavailable', async () => {
    const { app, log } = await setup()
    await log.close()
    const res = await postJson(app, '/v1/track', { userId: 'u', event: 'E' })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('TESSERA_LOG_UNAVAILABLE')
  })
})

describe('CORS', () => {
  it('answers the preflight of every ingest route', async () => {
    const { app } = await setup()
    for (const url of ['/v1/track', '/v1/t', '/v1/batch', '/v1/b', '/beacon/v1/batch', `/v1/projects/${WRITE_KEY}/settings`]) {
      const res = await app.inject({
        method: 'OPTIONS', url,
        headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,anonymousid,content-type' },
      })
      expect(res.statusCode).toBe(204)
      expect(res.headers['access-control-allow-origin']).toBe('https://shop.example.com')
      expect(res.headers['access-control-allow-methods']).toBe('POST, GET, OPTIONS')
      expect(String(res.headers['access-control-allow-headers'])).toContain('AnonymousId')
      expect(String(res.headers['access-control-allow-headers'])).toContain('Authorization')
      expect(res.headers['access-control-max-age']).toBe('86400')
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
    }
  })

  it('reflects the origin on responses, errors included', async () => {
    const { app } = await setup()
    const ok = await postJson(app, '/v1/track', { userId: 'u', event: 'E' }, { origin: 'https://shop.example.com' })
    expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example.com')
    expect(ok.headers.vary).toContain('Origin')
    const refused = await post(app, '/v1/track', { userId: 'u', event: 'E' }, { origin: 'https://shop.example.com' })
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['access-control-allow-origin']).toBe('https://shop.example.com')
  })

  it('allows only the configured origins when given a list', async () => {
    const { app } = await setup({ corsOrigins: ['https://shop.example.com'] })
    const allowed = await app.inject({ method: 'OPTIONS', url: '/v1/track', headers: { origin: 'https://shop.example.com' } })
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example.com')
    const denied = await app.inject({ method: 'OPTIONS', url: '/v1/track', headers: { origin: 'https://evil.example.net' } })
    expect(denied.headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe('analytics-next settings', () => {
  it('serves the Segment.io integration settings pointing back at this server', async () => {
    const { app } = await setup()
    const res = await app.inject({ method: 'GET', url: `/v1/projects/${WRITE_KEY}/settings`, headers: { host: 'cdp.example.com:8080' } })
    expect(res.statusCode).toBe(200)
    const settings = res.json()
    expect(settings.integrations['Segment.io']).toMatchObject({ apiKey: WRITE_KEY, apiHost: 'cdp.example.com:8080/v1', protocol: 'http' })
    expect(settings.metrics.sampleRate).toBe(0)
    expect(settings).toMatchObject({ plan: {}, enabledMiddleware: {}, remotePlugins: [] })
  })

  it('answers 401 for an unknown write key', async () => {
    const { app } = await setup()
    const res = await app.inject({ method: 'GET', url: '/v1/projects/wk_nobody_at_all/settings' })
    expect(res.statusCode).toBe(401)
    expect(res.json().code).toBe('TESSERA_UNAUTHORIZED')
  })
})

describe('metrics', () => {
  it('counts accepted events by source and type, and observes the append time', async () => {
    const { app, metrics } = await setup()
    await postJson(app, '/v1/batch', { batch: [
      { type: 'track', userId: 'u', event: 'A' }, { type: 'track', userId: 'u', event: 'B' }, { type: 'identify', userId: 'u' },
    ] })
    expect(await metricValue(metrics, 'tessera_events_accepted_total', { source: 'web', type: 'track' })).toBe(2)
    expect(await metricValue(metrics, 'tessera_events_accepted_total', { source: 'web', type: 'identify' })).toBe(1)
    const histogram = await metrics.appendSeconds.get()
    expect(histogram.values.find((v) => v.metricName === 'tessera_log_append_seconds_count')?.value).toBe(1)
  })
})

describe('with the app\'s Ajv options (coercion on, all errors)', () => {
  it('stores events exactly as checked: the schema pass can neither refuse nor rewrite them', async () => {
    const { app, log } = await setup({ ajv: { coerceTypes: true, removeAdditional: false, allErrors: true } })
    const res = await postJson(app, '/v1/batch', { batch: [
      { type: 'track', userId: 5, anonymousId: null, event: 'E', timestamp: null, messageId: null, properties: null, extra: [1] },
      { type: 'identify', userId: 'u', traits: { age: '42' } },
    ] })
    expect(res.statusCode).toBe(200)
    const events = await stored(log)
    const track = events.find((e) => e.type === 'track')!
    expect(track).toMatchObject({ userId: '5', anonymousId: null, extra: [1] })
    expect(track).not.toHaveProperty('properties')
    expect(events.find((e) => e.type === 'identify')!.traits).toEqual({ age: '42' })
  })

  it('still reports every problem of a batch', async () => {
    const { app } = await setup({ ajv: { coerceTypes: true, removeAdditional: false, allErrors: true } })
    const res = await postJson(app, '/v1/batch', { batch: [{ type: 'track', userId: true }, { type: 'group', userId: 'u' }] })
    expect(res.statusCode).toBe(400)
    expect(res.json().problems.map((p: { field: string }) => p.field)).toEqual(['.batch[0].userId', '.batch[0].event', '.batch[1].groupId'])
  })
})

describe('a real SDK', () => {
  it('receives the batches of @segment/analytics-node over HTTP', async () => {
    const { app, log } = await setup()
    const host = await app.listen({ host: '127.0.0.1', port: 0 })
    const analytics = new Analytics({ writeKey: WRITE_KEY, host, flushAt: 3, flushInterval: 50, maxRetries: 0 })
    analytics.identify({ userId: 'u1', traits: { email: 'ada@example.com' } })
    analytics.track({ userId: 'u1', event: 'Order Completed', properties: { total: 10 } })
    analytics.page({ anonymousId: 'a1', name: 'Home' })
    analytics.group({ userId: 'u1', groupId: 'g1' })
    analytics.alias({ userId: 'u1', previousId: 'a1' })
    analytics.screen({ userId: 'u1', name: 'Settings' })
    await analytics.closeAndFlush({ timeout: 5000 })
    const events = await stored(log)
    expect(events.map((e) => e.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen', 'track'])
    for (const event of events) {
      expect(event).toMatchObject({ sourceId: 'web', receivedAt: '2024-05-01T12:00:00.000Z' })
      expect(event).not.toHaveProperty('writeKey')
      expect(typeof event.messageId).toBe('string')
      expect((event.context as { library?: { name?: string } }).library?.name).toBe('@segment/analytics-node')
    }
  })
})
