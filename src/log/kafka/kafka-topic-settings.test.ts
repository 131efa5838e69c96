/**
 * The CreateTopics request the Kafka adapter sends for a topic with settings. librdkafka's mock cluster serves no
 * CreateTopics, so the request is checked here on the admin calls the adapter makes (a recording admin stands in
 * for the broker); everything else of the adapter runs on the mock in kafka-event-log.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { KafkaAdmin, KafkaClient, KafkaProducer, KafkaTopicMetadata } from './kafka-client.js'
import { KafkaEventLog } from './kafka-event-log.js'

function recordingAdmin(): { admin: KafkaAdmin; requests: Parameters<KafkaAdmin['createTopics']>[0][] } {
  const topics: KafkaTopicMetadata[] = []
  const requests: Parameters<KafkaAdmin['createTopics']>[0][] = []
  const admin: KafkaAdmin = {
    connect: async () => undefined, disconnect: async () => undefined,
    createTopics: async (request) => {
      requests.push(request)
      for (const t of request.topics) topics.push({ name: t.topic, partitions: Array.from({ length: t.numPartitions }, (_, partitionId) => ({ partitionId, leader: 1 })) })
      return true
    },
    fetchTopicMetadata: async (request) => ({ topics: topics.filter((t) => request.topics.includes(t.name)) }),
    fetchTopicOffsets: async () => [], fetchTopicOffsetsByTimestamp: async () => [], fetchOffsets: async () => [],
  }
  return { admin, requests }
}

describe('Kafka topic creation', () => {
  it('sends retention.ms with CreateTopics for a new topic, nothing for a topic that exists, and no config without settings', async () => {
    const { admin, requests } = recordingAdmin()
    const log = new KafkaEventLog({} as KafkaClient, admin, {} as KafkaProducer, {
      brokers: ['x:9092'], clientId: 't', maxPendingBytes: 1, appendTimeoutMs: 1, requestTimeoutMs: 1, connectionTimeoutMs: 1, retries: 0,
      maxRetryTimeMs: 1, retryAfterSeconds: 1, readTimeoutMs: 1000, sessionTimeoutMs: 1, rebalanceTimeoutMs: 1, heartbeatIntervalMs: 1, timeLookup: 'scan',
    })
    await log.ensureTopic('events.raw', 12, { retentionMs: 395 * 86_400_000 })
    await log.ensureTopic('events.raw', 12, { retentionMs: 1 })
    await log.ensureTopic('events.dead-letter', 1)
    expect(requests.map((r) => r.topics)).toEqual([
      [{ topic: 'events.raw', numPartitions: 12, configEntries: [{ name: 'retention.ms', value: '34128000000' }] }],
      [{ topic: 'events.dead-letter', numPartitions: 1, configEntries: [] }],
    ])
  })
})
