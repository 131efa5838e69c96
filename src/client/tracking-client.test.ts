import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ClientError } from './client-error.js'
import type { ClientEvent } from './client-event.js'
import { startFakeTrackingApi, type FakeTrackingApi } from './testing/fake-tracking-api.js'
import { TrackingClient, type EventRejection } from './tracking-client.js'

const WRITE_KEY = 'wk_test_0123456789'
const fast = { baseMs: 5, maxMs: 20, maxRetryAfterMs: 5_000 }

let api: FakeTrackingApi | undefined
afterEach(async () => {
  await api?.close()
  api = undefined
})

function track(i: number, extra: Partial<ClientEvent> = {}): ClientEvent {
  return { type: 'track', userId: `u${i}`, event: 'Thing Happened', properties: { i }, ...extra }
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('TrackingClient', () => {
  it('batches by event count and fills messageId and sentAt', async () => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY] })
    const clock = { now: () => Date.parse('2030-01-01T00:00:00Z') }
    const client = new TrackingClient({ url: api.url, writeKey: WRITE_KEY, maxBatchEvents: 100, clock })
    for (let i = 0; i < 250; i++) await client.enqueue(track(i))
    const stats = await client.flush()
    expect(stats).toMatchObject({ enqueued: 250, sent: 250, rejected: 0, failed: 0, retried: 0, requests: 3 })
    expect(api.requests.map((r) => r.events).sort((a, b) => a - b)).toEqual([50, 100, 100])
    expect(api.requests.every((r) => r.sentAt === '2030-01-01T00:00:00.000Z')).toBe(true)
    const ids = new Set(api.accepted.map((e) => e.messageId))
    expect(ids.size).toBe(250)
  })

  it('keeps each request under maxBatchBytes and refuses events over 32 KB without sending them', async () => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY] })
    const rejected: EventRejection<number>[] = []
    const client = new TrackingClient<number>({ url: api.url, writeKey: WRITE_KEY, onRejected: (r) => rejected.push(r) })
    const filler = 'x'.repeat(20_000)
    for (let i = 0; i < 60; i++) await client.enqueue(track(i, { properties: { filler } }), i)
    await client.enqueue(track(99, { properties: { filler: 'y'.repeat(40_000) } }), 99)
    const stats = await client.flush()
    expect(stats.sent).toBe(60)
    expect(api.requests.every((r) => r.bytes <= 450_000)).toBe(true)
    expect(api.requests.length).toBeGreaterThanOrEqual(3)
    expect(rejected).toHaveLength(1)
    expect(rejected[0]).toMatchObject({ ref: 99, by: 'client' })
    expect(rejected[0]!.message).toMatch(/at most 32,768 bytes/)
  })

  it.each([
    ['names the bad events', true],
    ['does not say which events are bad', false],
  ])('on 400 that %s, sends the valid events and reports each invalid one', async (_label, problemsNameEvents) => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY], problemsNameEvents })
    const rejected: EventRejection<number>[] = []
    const client = new TrackingClient<number>({ url: api.url, writeKey: WRITE_KEY, onRejected: (r) => rejected.push(r) })
    const bad = new Set([2, 5, 17])
    for (let i = 0; i < 20; i++) {
      await client.enqueue(bad.has(i) ? { type: 'identify', traits: { email: `p${i}@example.com` } } : track(i), i)
    }
    const stats = await client.flush()
    expect(stats).toMatchObject({ sent: 17, rejected: 3, failed: 0 })
    expect(api.accepted).toHaveLength(17)
    expect(rejected.map((r) => r.ref).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([2, 5, 17])
    for (const r of rejected) {
      expect(r.by).toBe('server')
      expect(r.status).toBe(400)
      expect(r.message).toMatch(/userId or anonymousId is required|invalid events/)
    }
    if (problemsNameEvents) {
      expect(api.requests).toHaveLength(2)
      expect(rejected[0]!.problems).toEqual([{ field: '.userId', message: 'userId or anonymousId is required' }])
    }
  })

  it('waits for Retry-After on 429, then delivers', async () => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY], upfront: [{ status: 429, retryAfter: '1' }] })
    const notices: string[] = []
    const client = new TrackingClient({ url: api.url, writeKey: WRITE_KEY, onRetry: (n) => notices.push(`${n.reason} ${n.delayMs}`) })
    await client.enqueue(track(1))
    const started = Date.now()
    const stats = await client.flush()
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    expect(stats).toMatchObject({ sent: 1, retried: 1, requests: 2 })
    expect(notices).toEqual(['HTTP 429 1000'])
    expect(api.accepted).toHaveLength(1)
  })

  it('retries 503 with backoff and gives up after the allowed retries', async () => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY], upfront: [{ status: 503 }, { status: 503 }, { status: 503 }] })
    const client = new TrackingClient({ url: api.url, writeKey: WRITE_KEY, retries: 2, backoff: fast })
    await client.enqueue(track(1))
    const error = await client.flush().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ClientError)
    expect(error).toMatchObject({ code: 'CLIENT_OVERLOADED', status: 503 })
    expect(client.stats).toMatchObject({ sent: 0, failed: 1, retried: 2, requests: 3 })
    await expect(client.enqueue(track(2))).rejects.toBeInstanceOf(ClientError)
  })

  it('splits a batch the server finds too large (413)', async () => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY], maxBodyBytes: 3_000 })
    const client = new TrackingClient({ url: api.url, writeKey: WRITE_KEY })
    for (let i = 0; i < 40; i++) await client.enqueue(track(i))
    const stats = await client.flush()
    expect(stats).toMatchObject({ sent: 40, rejected: 0 })
    expect(api.requests.some((r) => r.status === 413)).toBe(true)
  })

  it('accounts for every event when it fails mid-stream', async () => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY], delayMs: 20, upfront: [{ status: 200 }, { status: 200 }, ...Array.from({ length: 20 }, () => ({ status: 503 }))] })
    const client = new TrackingClient({ url: api.url, writeKey: WRITE_KEY, maxBatchEvents: 10, concurrency: 2, retries: 1, backoff: fast })
    let thrown: unknown
    let i = 0
    try {
      for (; i < 500; i++) await client.enqueue(track(i))
    } catch (error) {
      thrown = error
    }
    expect(thrown).toMatchObject({ code: 'CLIENT_OVERLOADED' })
    expect(i).toBeLessThan(500)
    await expect(client.flush()).rejects.toMatchObject({ code: 'CLIENT_OVERLOADED' })
    const s = client.stats
    expect(s.failed).toBeGreaterThan(0)
    expect(s.sent + s.rejected + s.failed).toBe(s.enqueued)
  })

  it('stops with CLIENT_UNAUTHORIZED when the write key is refused', async () => {
    api = await startFakeTrackingApi({ writeKeys: ['another-key-123'] })
    const client = new TrackingClient({ url: api.url, writeKey: WRITE_KEY })
    await client.enqueue(track(1))
    await expect(client.flush()).rejects.toMatchObject({ code: 'CLIENT_UNAUTHORIZED', status: 401 })
    expect(client.stats.failed).toBe(1)
  })

  it('stops with CLIENT_UNREACHABLE when nothing listens', async () => {
    const port = await closedPort()
    const retries: string[] = []
    const client = new TrackingClient({ url: `http://127.0.0.1:${port}`, writeKey: WRITE_KEY, retries: 2, backoff: fast, onRetry: (n) => retries.push(n.reason) })
    await client.enqueue(track(1))
    const error = await client.flush().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CLIENT_UNREACHABLE' })
    expect((error as Error).message).toMatch(/ECONNREFUSED/)
    expect(retries).toHaveLength(2)
  })

  it('keeps at most `concurrency` requests in flight', async () => {
    api = await startFakeTrackingApi({ writeKeys: [WRITE_KEY], delayMs: 30 })
    const client = new TrackingClient({ url: api.url, writeKey: WRITE_KEY, maxBatchEvents: 5, concurrency: 2 })
    for (let i = 0; i < 50; i++) await client.enqueue(track(i))
    await client.flush()
    expect(api.accepted).toHaveLength(50)
    expect(api.maxConcurrent()).toBe(2)
  })

  it('rejects bad options', () => {
    expect(() => new TrackingClient({ url: 'http://x', writeKey: 'k', concurrency: 0 })).toThrow(/concurrency/)
  })
})
