/**
 * Kafka unavailable during ingest: the tracking API answers 429 + Retry-After instead of buffering without
 * bound, recovers by itself when the brokers return, and every event it acknowledged reaches its profile.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { TOPICS } from '../../src/log/event-log.js'
import { requirePostgres } from '../support/services.js'
import { skipWithoutKafkaMock, startKafkaMock, type KafkaMock } from '../support/kafka-mock.js'
import { startPostgresHarness, type Harness } from '../support/tessera-harness.js'

const url = await requirePostgres()
const kafka = !skipWithoutKafkaMock()

;(url && kafka ? describe : describe.skip)('scale-out: Kafka outage during ingest', () => {
  let mock: KafkaMock | undefined
  let h: (Harness & { schema: string }) | undefined
  afterAll(async () => {
    await h?.close()
    await mock?.stop()
  })

  it('answers 429 with Retry-After while the brokers are down, then recovers, losing nothing acknowledged', async () => {
    mock = await startKafkaMock({ topics: { [TOPICS.raw]: 4, [TOPICS.resolved]: 4, [TOPICS.deadLetter]: 1 } })
    h = await startPostgresHarness(url!, { overrides: { log: { kind: 'kafka', brokers: mock.brokers } } })
    const user = `outage-${randomUUID()}`
    const acked: string[] = []
    const post = async (): Promise<Response> => {
      const messageId = randomUUID()
      const res = await h!.send('/v1/track', { userId: user, event: 'Tick', messageId })
      if (res.status === 200) acked.push(messageId)
      return res
    }
    expect((await post()).status).toBe(200)

    for (const id of mock.brokerIds) await mock.setBrokerDown(id)
    const during = await post()
    expect(during.status).toBe(429)
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(((await during.json()) as { code: string }).code).toBe('TESSERA_BACKPRESSURE')

    for (const id of mock.brokerIds) await mock.setBrokerUp(id)
    let recovered = false
    for (let i = 0; i < 60 && !recovered; i++) {
      recovered = (await post()).status === 200
      if (!recovered) await new Promise((r) => setTimeout(r, 500))
    }
    expect(recovered).toBe(true)
    for (let i = 0; i < 5; i++) expect((await post()).status).toBe(200)

    // Both consumer groups (identity, profile owners) crashed with the brokers and rejoin: on librdkafka's mock a
    // join takes 3 to 12 s, and the second generation can time out once, so allow for two rounds.
    await h.drain(60_000)
    const profile = await h.admin<{ id: string; eventCount: number }>(`/v1/profiles?identifier=user_id:${user}`)
    expect(profile.body.eventCount).toBe(acked.length)
    const events = await h.admin<{ events: { messageId: string }[] }>(`/v1/profiles/${profile.body.id}/events`)
    expect(new Set(events.body.events.map((e) => e.messageId))).toEqual(new Set(acked))
  }, 120_000)
})
